// Bundle the TurnView front end into tfwidget/static/widget.js (one self-contained ES module)
// and tfwidget/static/widget.css. `node build.mjs --watch` rebuilds on every change (see
// docs/frontend.md for hot reload in JupyterLab).
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, "..", "tfwidget", "static");
const watch = process.argv.includes("--watch");
const minify = !watch && !process.argv.includes("--no-minify");

const common = {
  bundle: true,
  minify,
  sourcemap: watch ? "inline" : false,
  logLevel: "info",
  legalComments: "eof",
  target: ["es2020"],
};

const builds = [
  {
    ...common,
    entryPoints: [path.join(here, "src", "index.js")],
    outfile: path.join(outdir, "widget.js"),
    format: "esm",
    platform: "browser",
  },
  {
    ...common,
    entryPoints: [path.join(here, "src", "styles.css")],
    outfile: path.join(outdir, "widget.css"),
  },
];

if (watch) {
  for (const options of builds) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
  }
  console.log(`watching js/src, writing to ${path.relative(process.cwd(), outdir)}`);
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
