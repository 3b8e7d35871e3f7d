// Message catalogues: every visible string comes from here, keyed by id.
import en from "./i18n/en.js";
import ptBR from "./i18n/pt-BR.js";
import ru from "./i18n/ru.js";

export const CATALOGUES = { en, "pt-BR": ptBR, ru };
export const LANGUAGES = Object.keys(CATALOGUES);

let current = "en";

export function setLanguage(lang) {
  current = CATALOGUES[lang] ? lang : "en";
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
