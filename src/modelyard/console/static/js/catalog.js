// The provider catalog (GET /providers) does not depend on the workspace: fetched once per page load.

import { get } from "./api.js";
import { h } from "./dom.js";

let loaded = null;

/** Map of provider id → catalog entry (labels, schemas, help). */
export function catalog() {
  loaded ??= get("/providers")
    .then((list) => new Map(list.map((provider) => [provider.id, provider])))
    .catch((error) => {
      loaded = null; // let the next page try again
      throw error;
    });
  return loaded;
}

/** The provider's vendor mark on its tile; should the mark not load, its monogram (catalog/icons/SOURCES.md). */
export function providerIcon(provider, { large = false } = {}) {
  const source = provider.icon_url ?? `/console/api/providers/${provider.id}/icon`;
  const image = h("img", { src: source, alt: "", loading: "lazy" });
  image.addEventListener("error", () => {
    if (!image.src.includes("variant=monogram")) image.src = `${source}?variant=monogram`;
  });
  const box = h("span", { class: `icon${large ? " large" : ""}` }, image);
  if (provider.background) box.style.background = provider.background;
  return box;
}
