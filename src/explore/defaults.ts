// The sizes at which `simclr explore` changes method by default, in a module of their own (no imports) so the
// command's --help can name them without loading the index and map libraries. Measured: README, Explore.

/**
 * Samples from which the HNSW index is used by default. Below it exact search through libtorch answers a query in
 * 22 ms (p50) at 100,000 samples here, needs no build, and its whole neighbour graph costs less than building an
 * HNSW graph and querying it for every sample (95 s against 75 s + 81 s at 100,000).
 */
export const HNSW_FROM = 200_000;

/**
 * Largest set mapped with UMAP by default: umap-js optimises in plain JavaScript at about 10 ms a point here (78 s
 * for 5,000 points on a busy machine); PCA maps any size in well under a second per 10,000.
 */
export const UMAP_UP_TO = 5_000;
