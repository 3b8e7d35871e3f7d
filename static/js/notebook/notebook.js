// The notebook widget's entry: the one file anywidget loads (bptt_studio.notebook.Studio's
// _esm), in JupyterLab, Jupyter Notebook, VS Code and marimo alike: a default export with
// render({model, el}). Its host imports it from a blob: URL, where "./network.js" resolves to
// nothing; so the page's own modules arrive as text in the model ("_modules": [path, text]
// pairs, each after what it imports, made ready by app/jslink.py) and become blob: modules
// here. Each is linked once per page and version: every widget of a notebook shares one copy
// of each module. The view itself is notebook-view.js, drawn in a shadow root of its own so
// that the page's style sheet and ids meet nothing of the notebook's.

const REGISTRY = Symbol.for("bptt-studio.modules");
const RESOLVER = Symbol.for("bptt-studio.import");
const TOKEN = /(["'])bptt-module:([^"']+)\1/g;

/** The modules of every version linked on this page, and the resolver of dynamic imports. */
function registry() {
  if (!globalThis[REGISTRY]) {
    const byUrl = new Map(); // blob: URL -> {path, urls} of the module it holds
    globalThis[REGISTRY] = { versions: new Map(), byUrl };
    // import("../x.js") in a linked module: x.js relative to that module, in its version
    globalThis[RESOLVER] = (from, specifier) => {
      const home = byUrl.get(from);
      const path = home && join(home.path, specifier);
      const url = home?.urls.get(path);
      if (!url) return Promise.reject(new Error(`bptt-studio: no module ${path} for ${from}`));
      return import(url);
    };
  }
  return globalThis[REGISTRY];
}

/** "i18n.js" + "./i18n/en.js" -> "i18n/en.js" */
function join(importer, specifier) {
  const parts = importer.split("/").slice(0, -1);
  for (const part of specifier.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  return parts.join("/");
}

/** {path: blob: URL} of a version's modules, made the first time that version is seen. */
function linked(version, modules) {
  const reg = registry();
  let urls = reg.versions.get(version);
  if (urls) return urls;
  urls = new Map();
  for (const [path, text] of modules) {
    const code = text.replace(TOKEN, (_, quote, target) => {
      if (!urls.has(target)) throw new Error(`bptt-studio: ${path} needs ${target} first`);
      return quote + urls.get(target) + quote;
    });
    const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
    urls.set(path, url);
    reg.byUrl.set(url, { path, urls });
  }
  reg.versions.set(version, urls);
  return urls;
}

async function render({ model, el }) {
  const urls = linked(model.get("_version"), model.get("_modules"));
  const view = await import(urls.get(model.get("_entry")));
  return view.mount({ model, el });
}

export default { render };
