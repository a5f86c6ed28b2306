// The page's side of the explore HTTP contract (docs/EXPLORE-API.md): the response shapes and one fetch helper
// that turns the server's `{ error }` replies into thrown errors naming the request.

/** GET /api/info. */
export interface ExploreInfo {
  run: string;
  checkpointStep: number;
  dataset: string;
  /** Samples in the map and the index. */
  count: number;
  /** Length of an embedding (the encoder's feature size). */
  dim: number;
  labelled: boolean;
  classNames: string[] | null;
  /** What the encoder takes: CHW float32 after preprocess(). */
  input: { channels: number; height: number; width: number; mean: number[]; std: number[] };
  onnx: { url: string; inputName: string; outputName: string };
  /** kNN top-1 (fractions in [0, 1]) of each sample's k neighbours' majority label, in the embedding and the map. */
  labelAgreement: { k: number; embeddingTop1: number; mapTop1: number } | null;
  index: { kind: 'hnsw' | 'exact'; buildMs: number };
  /** Whether GET /files/<path> serves the original images (folder: data). */
  folder: boolean;
}

/** GET /api/map: one point per sample, x and y in [0, 1]. */
export interface MapData {
  method: string;
  x: number[];
  y: number[];
  /** -1 for an unlabelled sample of a labelled set. */
  labels: number[] | null;
  /** folder: data only: each sample's file relative to the data folder, '/'-separated, for GET /files/. */
  paths: string[] | null;
}

export interface Neighbor {
  index: number;
  /** Cosine similarity in [-1, 1]. */
  similarity: number;
  label: number | null;
}

/** GET and POST /api/neighbors: sorted by similarity, highest first; `query` is null for an uploaded embedding. */
export interface NeighborsReply {
  query: number | null;
  neighbors: Neighbor[];
}

/** POST /api/embed: the server's embedding of an uploaded image and its neighbours. */
export interface EmbedReply {
  embedding: number[];
  neighbors: Neighbor[];
}

/** GET /api/duplicates: pairs at or above the threshold, most similar first. */
export interface DuplicatesReply {
  threshold: number;
  pairs: { a: number; b: number; similarity: number }[];
}

/** GET /api/outliers: lowest mean similarity to the k nearest neighbours first. */
export interface OutliersReply {
  k: number;
  items: { index: number; score: number }[];
}

/** A request the server refused or could not answer; `message` carries the server's own reason when it gave one. */
export class ApiError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Fetches `url` and parses its JSON; throws ApiError for a non-2xx reply or a body that is not JSON. */
export async function fetchJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(url, res.status, `${url}: HTTP ${res.status}, not JSON: ${text.slice(0, 120)}`);
  }
  if (!res.ok) {
    const reason =
      typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string'
        ? (body as { error: string }).error
        : `HTTP ${res.status}`;
    throw new ApiError(url, res.status, `${url}: ${reason}`);
  }
  return body as T;
}

/** The URL of sample `index`'s PNG thumbnail. */
export const thumbUrl = (index: number): string => `/thumb/${index}.png`;

/** The URL of a folder: sample's original file, from its path relative to the data folder. */
export const fileUrl = (path: string): string => `/files/${path.split('/').map(encodeURIComponent).join('/')}`;

export const api = {
  info: (): Promise<ExploreInfo> => fetchJson('/api/info'),
  map: (): Promise<MapData> => fetchJson('/api/map'),
  neighborsOf: (index: number, k: number): Promise<NeighborsReply> => fetchJson(`/api/neighbors?index=${index}&k=${k}`),
  neighborsOfEmbedding: (embedding: Float32Array, k: number): Promise<NeighborsReply> =>
    fetchJson('/api/neighbors', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ embedding: Array.from(embedding), k }),
    }),
  duplicates: (threshold: number, limit: number): Promise<DuplicatesReply> =>
    fetchJson(`/api/duplicates?threshold=${threshold}&limit=${limit}`),
  outliers: (limit: number): Promise<OutliersReply> => fetchJson(`/api/outliers?limit=${limit}`),
};
