/**
 * The layer order, checked by `npm run lint`. Bottom up:
 *
 *   schemas/      record shapes, error codes, configuration, calendar (what every stage shares)
 *   aggregate/    the store and the aggregates
 *   ingest/  reconcile/    the two stages; neither imports the other
 *   bench/        simulator, benchmarks, fault runs (may use every stage)
 *   cli.ts        the command line (registers each stage's commands)
 *
 * An import may only point down. test/ may import anything; nothing imports test/. No file may
 * reach itself through its imports (a circle), type-only imports included: a circle of types is
 * still two files that cannot be read apart.
 */
const below = {
  schemas: [],
  aggregate: ['schemas'],
  ingest: ['schemas', 'aggregate'],
  reconcile: ['schemas', 'aggregate'],
  bench: ['schemas', 'aggregate', 'ingest', 'reconcile'],
};
const LAYERS = Object.keys(below);

/** One rule per layer: from that folder, nothing but itself and what lies below it. */
const layerRules = LAYERS.map((layer) => ({
  name: `layer-${layer}`,
  comment: `${layer}/ may import only ${[layer, ...below[layer]].join(', ')} (docs/architecture.md, "Layers")`,
  severity: 'error',
  from: { path: `^${layer}/` },
  to: {
    path: `^(${[...LAYERS.filter((l) => l !== layer && !below[layer].includes(l)), 'test', 'cli\\.ts$'].join('|')})(/|$)`,
  },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-circular',
      comment: 'import circles make two files that cannot be read, tested or moved apart',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      comment: 'an import that resolves to no file is a typo or a file moved without its importers',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|\\.cache|\\.data|\\.tap)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Packages with an `exports` map (chdb/connection) resolve as Node.js resolves them.
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
