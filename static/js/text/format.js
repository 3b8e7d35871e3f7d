// Number formatting only (no mathematics): how a value from the API is written on screen.

const MINUS = "\u2212";

/** A number with `digits` significant digits; null (non-finite from the API) becomes "—". */
export function num(value, digits = 3) {
  if (value === null || value === undefined) return "—";
  if (typeof value !== "number") return String(value);
  if (value === 0) return "0";
  const abs = Math.abs(value);
  let text;
  if (abs >= 1e4 || abs < 1e-3) {
    text = value.toExponential(Math.max(0, digits - 1)).replace(/e\+?/, "e");
  } else {
    text = String(Number(value.toPrecision(digits)));
  }
  return text.replace(/-/g, MINUS);
}

const SUBSCRIPT_DIGITS = "₀₁₂₃₄₅₆₇₈₉";

/** A whole number in subscript digits (ξ₄ in a sentence, as d2l writes ξ_t). */
export function subscript(n) {
  return String(n).replace(/[0-9]/g, (d) => SUBSCRIPT_DIGITS[Number(d)]);
}

/** Machine form for data attributes and CSV: the exact float as JSON writes it. */
export function raw(value) {
  return value === null || value === undefined ? "null" : String(value);
}

const SUPERSCRIPT = {
  "-": "⁻",
  "−": "⁻",
  "+": "⁺",
  0: "⁰",
  1: "¹",
  2: "²",
  3: "³",
  4: "⁴",
  5: "⁵",
  6: "⁶",
  7: "⁷",
  8: "⁸",
  9: "⁹",
};

/** An integer exponent written as superscript digits, for m·10ᵏ labels (−4 → ⁻⁴). */
export function superscript(exponent) {
  return [...String(exponent)].map((c) => SUPERSCRIPT[c] || c).join("");
}
