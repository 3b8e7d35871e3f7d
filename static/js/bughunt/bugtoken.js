// The planted bug in a link (?bug=…), written so that a student reading the URL does not read
// the bug's name: its catalogue id, each byte mixed with a fixed key, in base64url. It hides
// the answer from the eye, not from someone who decodes it; a token that does not decode to a
// plain id gives null (the link's other settings still apply).
const KEY = [0x5b, 0x17, 0x3c, 0x6e, 0x21, 0x48];

const mix = (bytes) => bytes.map((b, i) => b ^ KEY[i % KEY.length]);

/** The opaque token of a catalogue id. */
export function encodeBug(id) {
  const bytes = mix([...new TextEncoder().encode(id)]);
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** The catalogue id of a token, or null when it is not one. */
export function decodeBug(token) {
  try {
    const b64 = token.replaceAll("-", "+").replaceAll("_", "/");
    const bytes = mix([...atob(b64)].map((c) => c.charCodeAt(0)));
    const id = String.fromCharCode(...bytes);
    return /^[a-z][a-z0-9_]{1,60}$/.test(id) ? id : null;
  } catch {
    return null;
  }
}
