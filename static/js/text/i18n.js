// Message catalogues: every visible string comes from here, keyed by id. Only the language in
// use is loaded (i18n/<lang>.js), and a part of the page far below the tool (the article,
// i18n/<lang>.article.js) only once it is wanted: elements inside [data-i18n-part="article"]
// are translated when that part has been loaded.

export const LANGUAGES = ["en", "pt-BR", "ru"];
const CATALOGUES = {};
const PARTS = new Set(); // parts wanted so far, loaded for every language switched to
const loading = new Map(); // "<lang>" or "<lang>:<part>" -> the promise of its loading
let current = "en";

// Each catalogue and part is loaded by one promise, kept: two modules that switch the language
// at once (the studio and a view) wait for the same loading, and neither replaces the
// catalogue the other is filling.
// A loading that failed (the server went away) is forgotten, so that the next switch tries again.
function once(key, load) {
  if (!loading.has(key)) {
    const promise = load();
    promise.catch(() => loading.delete(key));
    loading.set(key, promise);
  }
  return loading.get(key);
}

async function ensure(lang) {
  await once(lang, async () => {
    CATALOGUES[lang] = { ...(await import(`../i18n/${lang}.js`)).default };
  });
  for (const part of PARTS) {
    await once(`${lang}:${part}`, async () => {
      Object.assign(CATALOGUES[lang], (await import(`../i18n/${lang}.${part}.js`)).default);
    });
  }
}

/**
 * Load a language's catalogue (once) and make it current; unknown languages give English.
 * root: the element whose lang it sets (the page's; a notebook widget's own).
 */
export async function setLanguage(lang, root = document.documentElement) {
  const wanted = LANGUAGES.includes(lang) ? lang : "en";
  await ensure(wanted);
  current = wanted;
  root.lang = current;
  return current;
}

/** Load a part of the catalogue (now and for later languages), then translate its elements. */
export async function loadPart(part) {
  PARTS.add(part);
  await ensure(current);
  for (const el of document.querySelectorAll(`[data-i18n-part="${part}"]`)) {
    el.dataset.i18nLoaded = "true";
    applyTranslations(el);
  }
}

export function language() {
  return current;
}

/** A text with its {name} placeholders filled in from params (unknown names stay). */
export function fill(text, params = null) {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** The message `key` in the current language, with {name} placeholders filled in. */
export function t(key, params = null) {
  let text = CATALOGUES[current][key];
  if (text === undefined) {
    // A missing key is a bug the catalogue test catches; show the key, never crash.
    console.warn(`i18n: missing "${key}" in ${current}`);
    text = key;
  }
  return fill(text, params);
}

/**
 * The plural form of `key` for the count n ({n} filled in): the catalogue holds key.one,
 * key.few, key.many, key.other as the language's plural rules (Intl.PluralRules) need them
 * (English one/other; Russian one/few/many); a missing form falls back to key.other.
 */
export function tp(key, n, params = {}) {
  const form = new Intl.PluralRules(current).select(n);
  const full = `${key}.${form}` in CATALOGUES[current] ? `${key}.${form}` : `${key}.other`;
  return t(full, { ...params, n });
}

/** Every element marked data-i18n-plural="key" with data-i18n-n: the plural form for n. */
function applyPlurals(root) {
  for (const el of root.querySelectorAll("[data-i18n-plural]")) {
    el.textContent = tp(el.dataset.i18nPlural, Number(el.dataset.i18nN));
  }
}

export function has(key) {
  return key in CATALOGUES[current];
}

const waiting = (el) => el.closest("[data-i18n-part]:not([data-i18n-loaded])") !== null;

/** Fill every element marked with data-i18n (text), -aria, -title or -placeholder under root. */
export function applyTranslations(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    if (waiting(el)) continue;
    el.textContent = t(
      el.dataset.i18n,
      el.dataset.i18nArgs ? JSON.parse(el.dataset.i18nArgs) : null,
    );
  }
  for (const el of root.querySelectorAll("[data-i18n-aria]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAria));
  }
  for (const el of root.querySelectorAll("[data-i18n-title]")) {
    el.setAttribute("title", t(el.dataset.i18nTitle));
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
  }
  applyPlurals(root);
}
