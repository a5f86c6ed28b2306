// `simclr explore`'s page: the run's 2-D map (scatter.ts), a sample's nearest neighbours, a dropped image embedded in
// the browser (encoder.ts) and its neighbours, near-duplicate pairs, outliers and the label-agreement score, all
// from the explore server's JSON API (api.ts, docs/EXPLORE-API.md).
import { api, fileUrl, thumbUrl, type ExploreInfo, type MapData, type Neighbor } from './api.js';
import { BrowserEncoder, decodeImage } from './encoder.js';
import { packColour, Scatter } from './scatter.js';

/** performance.mark() set once the map's points are first on the canvas (the page-load figure in the README). */
export const MAP_DRAWN_MARK = 'explore:map-drawn';

const DUPLICATES_LIMIT = 100;
const OUTLIERS_LIMIT = 50;
const DEFAULT_K = 10;
const MAX_K = 100;
/** Classes listed in the legend (CIFAR-100's fit). */
const LEGEND_LIMIT = 200;

// Tableau's 10 and 20 category palettes (matplotlib's tab10, tab20): distinct at a glance, for up to 20 classes.
const TAB10 = ['1f77b4', 'ff7f0e', '2ca02c', 'd62728', '9467bd', '8c564b', 'e377c2', '7f7f7f', 'bcbd22', '17becf'];
const TAB20 = [
  '1f77b4',
  'aec7e8',
  'ff7f0e',
  'ffbb78',
  '2ca02c',
  '98df8a',
  'd62728',
  'ff9896',
  '9467bd',
  'c5b0d5',
  '8c564b',
  'c49c94',
  'e377c2',
  'f7b6d2',
  '7f7f7f',
  'c7c7c7',
  'bcbd22',
  'dbdb8d',
  '17becf',
  '9edae5',
];
const UNLABELLED: [number, number, number] = [0x44, 0x66, 0xaa];
const NO_LABEL: [number, number, number] = [0xb0, 0xb0, 0xb0];

/** RGB of class `c` of `classes`: a Tableau colour for up to 20 classes, else hues a golden angle apart. */
function classColour(c: number, classes: number): [number, number, number] {
  if (classes <= 20) {
    const hex = (classes <= 10 ? TAB10 : TAB20)[c]!;
    return [0, 2, 4].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  }
  const hue = (c * 137.508) % 360;
  const lightness = 0.45 + 0.12 * (c % 3);
  // HSL with saturation 0.65 to RGB.
  const a = 0.65 * Math.min(lightness, 1 - lightness);
  const f = (n: number): number => {
    const k = (n + hue / 30) % 12;
    return Math.round(255 * (lightness - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

const css = ([r, g, b]: readonly number[]): string => `rgb(${r} ${g} ${b})`;

function element<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

function create<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<'className' | 'textContent' | 'title', string>> = {},
  children: (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  Object.assign(el, props);
  el.append(...children);
  return el;
}

function thumbImage(index: number, alt: string): HTMLImageElement {
  const img = create('img', { title: alt });
  img.alt = alt;
  img.loading = 'lazy';
  img.src = thumbUrl(index);
  return img;
}

/** Shows an error above the map until dismissed (the page keeps working); a second one replaces the first. */
function showError(message: string): void {
  element('error-text').textContent = message;
  element('error').hidden = false;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** A query shown in the neighbours panel: a sample of the map, or an image the user dropped. */
type Query =
  | { kind: 'sample'; index: number }
  | {
      kind: 'upload';
      name: string;
      preview: string;
      embedding: Float32Array;
      width: number;
      height: number;
      ms: number;
    };

export class ExplorePage {
  private readonly labels: Int32Array | null;
  private readonly paths: string[] | null;
  readonly scatter: Scatter;
  private query: Query | null = null;
  private queryToken = 0;
  private duplicatesToken = 0;
  private encoder: Promise<BrowserEncoder> | null = null;

  constructor(
    private readonly info: ExploreInfo,
    map: MapData,
  ) {
    const n = map.x.length;
    if (map.y.length !== n || (map.labels && map.labels.length !== n))
      throw new Error(`/api/map: ${n} x, ${map.y.length} y and ${map.labels?.length ?? 'no'} labels`);
    this.labels = map.labels ? Int32Array.from(map.labels) : null;
    this.paths = info.folder && map.paths?.length === n ? map.paths : null;
    const classes = this.classCount();
    const palette = Array.from({ length: classes }, (_, c) => classColour(c, classes));
    const colours = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const l = this.labels?.[i] ?? -1;
      const rgb = this.labels === null ? UNLABELLED : l >= 0 && l < classes ? palette[l]! : NO_LABEL;
      colours[i] = packColour(rgb[0], rgb[1], rgb[2]);
    }
    let firstFrame = true;
    this.scatter = new Scatter(
      element('map'),
      { x: Float32Array.from(map.x), y: Float32Array.from(map.y), colours },
      {
        thumbUrl,
        onSelect: (i) => void this.selectSample(i),
        onHover: (i, x, y) => this.hover(i, x, y),
        onDraw: (ms) => {
          if (firstFrame) {
            firstFrame = false;
            performance.mark(MAP_DRAWN_MARK);
          }
          element('map-figures').textContent =
            `${n.toLocaleString('en')} points (${map.method}), frame ${ms.toFixed(1)} ms`;
        },
      },
    );
    element('map-status').hidden = true;
    this.renderHeader();
    this.renderLegend(palette);
    this.wireControls();
  }

  /** Classes to colour: the named classes, or 1 + the largest label. */
  private classCount(): number {
    if (!this.labels) return 0;
    let max = -1;
    for (const l of this.labels) if (l > max) max = l;
    return Math.max(this.info.classNames?.length ?? 0, max + 1);
  }

  private labelName(label: number | null | undefined): string {
    if (label === null || label === undefined || label < 0) return '';
    return this.info.classNames?.[label] ?? `class ${label}`;
  }

  private sampleLabel(index: number): string {
    return this.labelName(this.labels?.[index]);
  }

  private renderHeader(): void {
    const { info } = this;
    element('run-info').textContent =
      `${info.run} · step ${info.checkpointStep} · ${info.dataset} · ${info.count.toLocaleString('en')} images · ` +
      `${info.dim}-d features · ${info.index.kind} index`;
    const agreement = element('agreement');
    if (info.labelAgreement) {
      const { k, embeddingTop1, mapTop1 } = info.labelAgreement;
      const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;
      const scores = `embedding ${pct(embeddingTop1)}, map ${pct(mapTop1)}`;
      agreement.textContent = `label agreement (kNN top-1, k=${k}): ${scores}`;
      agreement.title =
        'How often the majority label of a sample’s k nearest neighbours is its own label: in the feature space, ' +
        'and among its nearest points on this map';
      agreement.hidden = false;
    }
  }

  private renderLegend(palette: [number, number, number][]): void {
    if (!this.labels || palette.length === 0) return;
    const counts = new Array<number>(palette.length).fill(0);
    for (const l of this.labels) if (l >= 0 && l < counts.length) counts[l]!++;
    const legend = element('legend');
    legend.replaceChildren(
      ...palette.slice(0, LEGEND_LIMIT).map((rgb, c) => {
        const swatch = create('span', { className: 'swatch' });
        swatch.style.background = css(rgb);
        return create('div', {}, [swatch, `${this.labelName(c)} (${counts[c]!.toLocaleString('en')})`]);
      }),
    );
    if (palette.length > LEGEND_LIMIT)
      legend.append(create('div', { textContent: `… and ${palette.length - LEGEND_LIMIT} more classes` }));
    legend.hidden = false;
  }

  private wireControls(): void {
    element('error-close').addEventListener('click', () => {
      element('error').hidden = true;
    });
    element('reset-view').addEventListener('click', () => this.scatter.resetView());
    const kInput = element<HTMLInputElement>('k');
    kInput.value = String(DEFAULT_K);
    kInput.addEventListener('change', () => {
      kInput.value = String(this.k());
      void this.refreshQuery();
    });

    const file = element<HTMLInputElement>('file');
    file.addEventListener('change', () => {
      const f = file.files?.[0];
      if (f) void this.queryImage(f);
      file.value = '';
    });
    // A file dropped anywhere on the page is the query image; the browser must not navigate to it.
    let depth = 0;
    const dragging = (on: boolean): void => {
      document.body.classList.toggle('dragging', on);
    };
    window.addEventListener('dragenter', (e) => {
      e.preventDefault();
      depth++;
      dragging(true);
    });
    window.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) dragging(false);
    });
    window.addEventListener('dragover', (e) => e.preventDefault());
    window.addEventListener('drop', (e) => {
      e.preventDefault();
      depth = 0;
      dragging(false);
      const f = e.dataTransfer?.files[0];
      if (f) void this.queryImage(f);
    });

    const threshold = element<HTMLInputElement>('dup-threshold');
    let timer = 0;
    threshold.addEventListener('input', () => {
      element('dup-value').textContent = Number(threshold.value).toFixed(3);
      clearTimeout(timer);
      timer = window.setTimeout(() => void this.loadDuplicates(), 200);
    });
  }

  private k(): number {
    const v = Math.round(Number(element<HTMLInputElement>('k').value));
    return Number.isFinite(v) ? Math.min(MAX_K, Math.max(1, v)) : DEFAULT_K;
  }

  private hover(index: number | null, clientX: number, clientY: number): void {
    const tip = element('tooltip');
    if (index === null) {
      tip.hidden = true;
      return;
    }
    const img = tip.querySelector('img')!;
    const src = thumbUrl(index);
    if (img.getAttribute('src') !== src) img.src = src;
    tip.querySelector('span')!.textContent = `#${index} ${this.sampleLabel(index)}`;
    tip.style.left = `${Math.min(clientX + 14, window.innerWidth - 120)}px`;
    tip.style.top = `${Math.min(clientY + 14, window.innerHeight - 130)}px`;
    tip.hidden = false;
  }

  async selectSample(index: number): Promise<void> {
    this.query = { kind: 'sample', index };
    await this.refreshQuery();
  }

  /** (Re)computes the current query's neighbours with the current k and shows them. */
  private async refreshQuery(): Promise<void> {
    const query = this.query;
    if (!query) return;
    const token = ++this.queryToken;
    const list = element('neighbours');
    list.setAttribute('aria-busy', 'true');
    const k = this.k();
    try {
      const reply =
        query.kind === 'sample'
          ? await api.neighborsOf(query.index, k)
          : await api.neighborsOfEmbedding(query.embedding, k);
      if (token !== this.queryToken) return;
      this.renderQuery(query, reply.neighbors);
    } catch (e) {
      if (token === this.queryToken) showError(`Neighbours: ${messageOf(e)}`);
    } finally {
      if (token === this.queryToken) list.removeAttribute('aria-busy');
    }
  }

  private renderQuery(query: Query, neighbours: Neighbor[]): void {
    const head = element('query-head');
    let card: HTMLElement;
    if (query.kind === 'sample') {
      const label = this.sampleLabel(query.index);
      const text = create('div', {}, [
        create('strong', { textContent: `sample #${query.index}` }),
        create('br'),
        label,
      ]);
      const path = this.paths?.[query.index];
      if (path !== undefined) {
        const link = create('a', { textContent: path, title: 'the original file' });
        link.href = fileUrl(path);
        link.target = '_blank';
        text.append(create('br'), link);
      }
      card = create('div', { className: 'query-card' }, [thumbImage(query.index, `sample ${query.index}`), text]);
    } else {
      const img = create('img');
      img.alt = query.name;
      img.src = query.preview;
      card = create('div', { className: 'query-card' }, [
        img,
        create('div', {}, [
          create('strong', { textContent: query.name }),
          create('br'),
          `${query.width}×${query.height}, embedded in this browser in ${query.ms.toFixed(0)} ms`,
        ]),
      ]);
    }
    head.className = '';
    head.replaceChildren(card);
    const list = element('neighbours');
    // What the list answers: a sample's index, or upload:<file name>.
    list.dataset.query = query.kind === 'sample' ? String(query.index) : `upload:${query.name}`;
    list.replaceChildren(
      ...neighbours.map((n) => {
        const label = this.labelName(n.label);
        const button = create('button', { title: `sample #${n.index}: show its neighbours` }, [
          thumbImage(n.index, `sample ${n.index}`),
          create('span', { textContent: n.similarity.toFixed(4) }),
          create('span', { className: 'label', textContent: label || `#${n.index}` }),
        ]);
        button.type = 'button';
        button.addEventListener('click', () => void this.selectSample(n.index));
        const li = create('li', {}, [button]);
        li.dataset.index = String(n.index);
        li.dataset.similarity = String(n.similarity);
        return li;
      }),
    );
    this.scatter.highlight(
      query.kind === 'sample' ? query.index : null,
      neighbours.map((n) => n.index),
    );
  }

  /** Embeds a dropped or chosen image in the browser and shows its neighbours. */
  async queryImage(file: File): Promise<void> {
    const status = element('drop-status');
    const token = ++this.queryToken;
    try {
      status.textContent = `Decoding ${file.name}…`;
      const image = await decodeImage(file, file.name);
      if (!this.encoder) {
        status.textContent = 'Loading the encoder (onnxruntime-web and the model)…';
        this.encoder = BrowserEncoder.load(this.info);
        // A failed load is retried on the next image.
        this.encoder.catch(() => {
          this.encoder = null;
        });
      }
      const encoder = await this.encoder;
      status.textContent = `Embedding ${file.name}…`;
      const t0 = performance.now();
      const embedding = await encoder.embed(image);
      const ms = performance.now() - t0;
      if (token !== this.queryToken) return;
      const previous = this.query;
      if (previous?.kind === 'upload') URL.revokeObjectURL(previous.preview);
      this.query = {
        kind: 'upload',
        name: file.name,
        preview: URL.createObjectURL(file),
        embedding,
        width: image.width,
        height: image.height,
        ms,
      };
      status.textContent = image.translucent
        ? `${file.name} has transparent pixels: the browser rounds their colours, so its features may differ ` +
          'slightly from the server’s.'
        : `${file.name}: embedded in this browser by the run's encoder (ONNX, ${ms.toFixed(0)} ms).`;
      await this.refreshQuery();
    } catch (e) {
      status.textContent = '';
      showError(`Your image: ${messageOf(e)}`);
    }
  }

  async loadDuplicates(): Promise<void> {
    const token = ++this.duplicatesToken;
    const threshold = Number(element<HTMLInputElement>('dup-threshold').value);
    const status = element('dup-status');
    try {
      const reply = await api.duplicates(threshold, DUPLICATES_LIMIT);
      if (token !== this.duplicatesToken) return;
      const { pairs } = reply;
      status.textContent =
        pairs.length === 0
          ? 'No pairs at or above this similarity.'
          : `${pairs.length}${pairs.length === DUPLICATES_LIMIT ? '+' : ''} pairs, most similar first.`;
      element('dup-list').replaceChildren(
        ...pairs.map((p) => {
          const button = create('button', { title: `samples #${p.a} and #${p.b}` }, [
            create('span', { className: 'pair' }, [thumbImage(p.a, `sample ${p.a}`), thumbImage(p.b, `sample ${p.b}`)]),
            create('span', { textContent: p.similarity.toFixed(4) }),
            create('span', { className: 'label', textContent: `#${p.a} · #${p.b}` }),
          ]);
          button.type = 'button';
          button.addEventListener('click', () => {
            this.scatter.focus(p.a);
            void this.selectSample(p.a);
          });
          return create('li', {}, [button]);
        }),
      );
    } catch (e) {
      if (token === this.duplicatesToken) showError(`Near-duplicates: ${messageOf(e)}`);
    }
  }

  async loadOutliers(): Promise<void> {
    try {
      const { k, items } = await api.outliers(OUTLIERS_LIMIT);
      element('outlier-status').textContent = `Lowest mean cosine similarity to their ${k} nearest neighbours first.`;
      element('outlier-list').replaceChildren(
        ...items.map((item) => {
          const button = create('button', { title: `sample #${item.index}` }, [
            thumbImage(item.index, `sample ${item.index}`),
            create('span', { textContent: item.score.toFixed(4) }),
            create('span', { className: 'label', textContent: this.sampleLabel(item.index) || `#${item.index}` }),
          ]);
          button.type = 'button';
          button.addEventListener('click', () => {
            this.scatter.focus(item.index);
            void this.selectSample(item.index);
          });
          return create('li', {}, [button]);
        }),
      );
    } catch (e) {
      showError(`Outliers: ${messageOf(e)}`);
    }
  }
}

async function main(): Promise<ExplorePage | null> {
  let page: ExplorePage;
  try {
    const [info, map] = await Promise.all([api.info(), api.map()]);
    page = new ExplorePage(info, map);
  } catch (e) {
    element('map-status').textContent = 'No map.';
    showError(`Could not load the map: ${messageOf(e)}`);
    return null;
  }
  // The lists load after the map is on screen, so they do not delay it.
  void page.loadDuplicates();
  void page.loadOutliers();
  return page;
}

/**
 * The page once its map is drawn (null when it could not load): for scripts driving the page, e.g. the browser
 * test, or a console: `(await import('/static/explore/web/app.js')).loaded`.
 */
export const loaded: Promise<ExplorePage | null> = main();
