// The evals this tool implements, each a module ./evals/NAME.mjs exporting `functions`.
export const EVALS = ["hello", "lse", "llsq", "det", "gmm", "kmeans", "ode", "lstm", "ba", "ht", "particle", "saddle"];
