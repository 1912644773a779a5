// Vendors the explorer's front-end libraries into OUT_DIR: `node build.mjs OUT_DIR`, run by
// `make explorer-assets` in a copy of this directory (build/explorer-assets) after `npm ci`, so no
// node_modules ever lands inside the Python package. The output is committed: neither the tests nor the
// node's users need npm.
//
//   keccak.js              keccak_256 from @noble/hashes (audited), bundled as one minified ES module
//   swagger-ui-bundle.js   Swagger UI for /docs (swagger-ui-dist)
//   swagger-ui.css
//   redoc.standalone.js    Redoc for /redoc
//   LICENSES.txt           the licenses of everything above
//
// Nothing in a vendored file may make the browser fetch from outside the node: source-map comments are
// removed (the maps are not shipped), the one absolute link a bundle renders (Redoc's "powered by") is
// replaced by a local anchor and the logo it would load from Redocly's CDN by an empty data: URI (the image
// fails to decode and Redoc leaves it out). tests/explorer/test_offline.py checks every file for src=, href= and url( of
// a remote address.
import { build } from "esbuild";
import { copyFileSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const out = process.argv[2];
if (!out) throw new Error("usage: node build.mjs OUT_DIR");
const modules = join(process.cwd(), "node_modules");
mkdirSync(out, { recursive: true });

const scrub = (text) =>
  text
    .replace(/\/\/# sourceMappingURL=[\w.-]+\.map/g, "")
    .replace(/\/\*# sourceMappingURL=[\w.-]+\.map\s*\*\//g, "")
    .replaceAll("https://redocly.com/redoc/", "#")
    .replaceAll('"https://cdn.redoc.ly/redoc/logo-mini.svg"', '"data:,"');

function vendor(from, to) {
  writeFileSync(join(out, to), scrub(readFileSync(join(modules, from), "utf8")));
}

await build({
  stdin: { contents: "export { keccak_256 } from '@noble/hashes/sha3.js';", resolveDir: process.cwd() },
  bundle: true,
  format: "esm",
  minify: true,
  legalComments: "none",
  outfile: join(out, "keccak.js"),
});
vendor("swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-bundle.js");
vendor("swagger-ui-dist/swagger-ui.css", "swagger-ui.css");
vendor("redoc/bundles/redoc.standalone.js", "redoc.standalone.js");

const licenses = [
  ["@noble/hashes", "@noble/hashes/LICENSE"],
  ["swagger-ui-dist", "swagger-ui-dist/LICENSE"],
  ["swagger-ui-dist (NOTICE)", "swagger-ui-dist/NOTICE"],
  ["swagger-ui-dist (bundled packages)", "swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt"],
  ["redoc", "redoc/LICENSE"],
  ["redoc (bundled packages)", "redoc/bundles/redoc.standalone.js.LICENSE.txt"],
];
const versions = (name) => JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")).version;
let text = "Licenses of the front-end libraries vendored into opendepin's explorer.\n";
for (const [title, path] of licenses) {
  const name = path.startsWith("@") ? path.split("/").slice(0, 2).join("/") : path.split("/")[0];
  text += `\n===== ${title} ${versions(name)} =====\n\n${readFileSync(join(modules, path), "utf8")}\n`;
}
writeFileSync(join(out, "LICENSES.txt"), text);
console.log(`vendored into ${out}`);
