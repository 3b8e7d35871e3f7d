// Message catalogues: every visible string comes from here, keyed by id. Only the language in
// use is loaded (i18n/<lang>.js, one module per language).

export const LANGUAGES = ["en", "pt-BR", "ru"];
const CATALOGUES = {};
let current = "en";

/** Load a language's catalogue (once) and make it current; unknown languages give English. */
export async function setLanguage(lang) {
  const wanted = LANGUAGES.includes(lang) ? lang : "en";
  if (!CATALOGUES[wanted]) CATALOGUES[wanted] = (await import(`./i18n/${wanted}.js`)).default;
  current = wanted;
  document.documentElement.lang = current;
  return current;
}

export function language() {
  return current;
}

/** The message `key` in the current language, with {name} placeholders filled in. */
export function t(key, params = null) {
  let text = CATALOGUES[current][key];
  if (text === undefined) {
    // A missing key is a bug the catalogue test catches; show the key, never crash.
    console.warn(`i18n: missing "${key}" in ${current}`);
    text = key;
  }
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  }
  return text;
}

export function has(key) {
  return key in CATALOGUES[current];
}

/** Fill every element marked with data-i18n (text), -aria, -title or -placeholder under root. */
export function applyTranslations(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAria));
  }
  for (const el of root.querySelectorAll("[data-i18n-title]")) {
    el.setAttribute("title", t(el.dataset.i18nTitle));
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
  }
}
