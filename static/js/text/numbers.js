// Numbers as people type them: one entry (a decimal comma and the typographic minus accepted),
// and a list of them in the data box, read by the rule of the page's language. Pure functions
// (no DOM). Typed text is read here, in the page, and the API receives JSON numbers: a decimal
// comma is a matter of the person's language, which the request does not carry (docs/DESIGN.md,
// "Numbers typed on the page").

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
/** One number written with a decimal comma ("0,5", "-1,5e-3"). */
export const DECIMAL_COMMA = /^[+-]?\d*,\d+(e[+-]?\d+)?$/i;

/**
 * What a typed or pasted entry means: a number (the float64 nearest to the decimal written,
 * exactly as the API's JSON parser reads it), null for an empty entry, or the text itself
 * (which the API refuses, naming the entry). Accepts a decimal comma and the typographic minus
 * (−) the page writes numbers with, so that numbers copied from the page paste back.
 */
export function cellValue(text) {
  const s = String(text ?? "")
    .replace(/[\u2212\u2012\u2013\uFE63\uFF0D]/g, "-")
    .replace(/[\s\u00a0\u202f]/g, "");
  if (s === "") return null;
  const plain = DECIMAL_COMMA.test(s) ? s.replace(",", ".") : s;
  return NUMBER.test(plain) ? Number(plain) : String(text).trim();
}

/** Whether a language writes its decimals with a comma (pt-BR, ru: 1,5), as Intl says. */
export function decimalComma(lang) {
  try {
    return new Intl.NumberFormat(lang).format(1.5).includes(",");
  } catch {
    return false;
  }
}

const BETWEEN_DIGITS = /\d,\d/;

/**
 * The numbers of the data box, by the rule of the language (stated under the box):
 * - a decimal-comma language (pt-BR, ru): values separated by semicolons or spaces (a comma
 *   followed by a space separates too, "2, 4, 6"); a comma between digits is the decimal comma,
 *   "1,5; 2,5" is two values;
 * - a decimal-point language (en): values separated by commas, semicolons or spaces.
 * What could be read two ways is refused, naming the entry: in pt-BR "1,5,2" (which comma is
 * the decimal one?) and "1.000,5" (a point and a comma); in English "1,5; 2,5" (semicolons
 * between values and a comma between digits: a decimal comma typed in the English page).
 * {values} or {error: "series" | "ambiguous", entry}.
 */
export function seriesValues(text, lang) {
  const s = String(text ?? "").trim();
  const comma = decimalComma(lang);
  let entries;
  if (comma) {
    entries = s.split(/;|,(?=\s|$)|\s+/).filter(Boolean);
    const unclear = entries.find(
      (e) => (e.match(/,/g) || []).length > 1 || /[.].*,|,.*[.]/.test(e),
    );
    if (unclear) return { error: "ambiguous", entry: unclear };
  } else {
    if (s.includes(";")) {
      const unclear = s.split(/;|\s+/).find((e) => BETWEEN_DIGITS.test(e));
      if (unclear) return { error: "ambiguous", entry: unclear.trim() };
    }
    entries = s.split(/[\s,;]+/).filter(Boolean);
  }
  const values = entries.map(cellValue);
  if (!values.length || values.some((v) => typeof v !== "number" || !Number.isFinite(v))) {
    return { error: "series" };
  }
  return { values };
}

/** The numbers of a series as the data box shows them in a language (read back the same). */
export function seriesText(values, lang) {
  if (!decimalComma(lang)) return values.join(", ");
  return values.map((v) => String(v).replace(".", ",")).join("; ");
}
