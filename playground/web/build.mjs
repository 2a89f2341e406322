// Builds the playground bundle embedded in the Switchyard binaries:
//   cd playground/web && npm ci && node build.mjs
// Writes ../assets/playground.{js,css} (minified, production React), their
// gzip copies, and THIRD_PARTY_LICENSES.txt with the licence of every npm
// package that ended up in the bundle. The outputs are committed, so `cargo
// build` needs neither Node nor the network; rerun this after changing the
// pinned versions in package.json.
import { build } from 'esbuild';
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'assets');
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: { playground: join(here, 'src', 'main.jsx') },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'none',
  metafile: true,
  outdir: out,
  // GraphiQL's CSS points at no external files; anything else must be inlined.
  loader: { '.svg': 'dataurl', '.woff': 'dataurl', '.woff2': 'dataurl' },
  logLevel: 'warning',
});

for (const file of ['playground.js', 'playground.css']) {
  const bytes = readFileSync(join(out, file));
  // mtime 0 in the gzip header: the same input always gives the same bytes.
  writeFileSync(
    join(out, `${file}.gz`),
    gzipSync(bytes, { level: constants.Z_BEST_COMPRESSION }),
  );
}

// The packages whose code is in the bundle, from esbuild's list of inputs.
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g);
  if (!match) continue;
  const dir = input.slice(0, input.lastIndexOf(match.at(-1)) + match.at(-1).length);
  const pkg = JSON.parse(readFileSync(join(here, dir, 'package.json'), 'utf8'));
  packages.set(`${pkg.name}@${pkg.version}`, { dir: join(here, dir), pkg });
}
const sections = [...packages.keys()].sort().map((id) => {
  const { dir, pkg } = packages.get(id);
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  const text = file ? readFileSync(join(dir, file), 'utf8').trim() : `License: ${pkg.license}`;
  return `${id} (${pkg.license})\n${'-'.repeat(id.length)}\n${text}\n`;
});
writeFileSync(
  join(out, 'THIRD_PARTY_LICENSES.txt'),
  'The Switchyard playground bundle (playground.js, playground.css) contains these npm packages.\n' +
    "graphiql's style.css, and so playground.css, embeds the Roboto (Apache-2.0) and\n" +
    'Fira Code (SIL Open Font License 1.1) web fonts.\n\n' +
    sections.join('\n\n'),
);
console.log(`bundled ${packages.size} packages into ${out}`);
