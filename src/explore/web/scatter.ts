// The map: a canvas scatter of up to a few hundred thousand points with pan (drag) and zoom (wheel). Points are
// written straight into one ImageData buffer and put on the canvas in a single call, so a frame of 100k points
// costs a few milliseconds; selection rings and thumbnails (once few enough points are in view) are drawn on top.

/** A colour as ImageData's Uint32 view stores it on this machine (byte order R, G, B, A in memory). */
export type PackedColour = number;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Packs 8-bit r, g, b (and alpha, default opaque) for a Uint32Array view of ImageData. */
export function packColour(r: number, g: number, b: number, a = 255): PackedColour {
  return LITTLE_ENDIAN ? ((a << 24) | (b << 16) | (g << 8) | r) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | a) >>> 0;
}

export interface ScatterPoints {
  /** Map coordinates in [0, 1]; y grows upwards. */
  x: Float32Array;
  y: Float32Array;
  /** One packed colour per point (packColour). */
  colours: Uint32Array;
}

export interface ScatterOptions {
  /** Called with a point's index when it is clicked (a press and release without dragging). */
  onSelect?: (index: number) => void;
  /** Called with the point under the pointer (null when none) and the pointer's client coordinates. */
  onHover?: (index: number | null, clientX: number, clientY: number) => void;
  /** Called after each frame with its drawing time in milliseconds. */
  onDraw?: (ms: number) => void;
  /** URL of a point's thumbnail, drawn in place of the point once at most `maxThumbs` points are in view. */
  thumbUrl?: (index: number) => string;
  maxThumbs?: number;
  background?: [number, number, number];
}

const CLICK_SLOP_PX = 4;
const HIT_RADIUS_PX = 6;
const THUMB_PX = 32;
const THUMB_CACHE_LIMIT = 2000;
const FIT_MARGIN_PX = 16;
const MIN_ZOOM = 0.5;
const MAX_ZOOM = 4096;

export class Scatter {
  private readonly ctx: CanvasRenderingContext2D;
  private readonly n: number;
  // Uniform grid over [0, 1]^2 for hit tests: the points of cell c are cellItems[cellStart[c] .. cellStart[c + 1]).
  private readonly grid: number;
  private readonly cellStart: Int32Array;
  private readonly cellItems: Int32Array;
  private image: ImageData | null = null;
  private pixels: Uint32Array | null = null;
  private readonly background: PackedColour;
  private readonly thumbs = new Map<number, HTMLImageElement>();
  // View: CSS pixel of map point (u, v) is (tx + u * scale, ty + (1 - v) * scale); scale = fit * zoom.
  private zoom = 1;
  private tx = 0;
  private ty = 0;
  private fitScale = 1;
  private cssWidth = 0;
  private cssHeight = 0;
  private dpr = 1;
  private frame = 0;
  private drag: { x: number; y: number; tx: number; ty: number; moved: boolean; id: number } | null = null;
  private selected: number | null = null;
  /** Whether the last frame showed thumbnails (they are larger targets for the pointer than points). */
  private thumbsShown = false;
  private neighbours: readonly number[] = [];
  private readonly observer: ResizeObserver;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly points: ScatterPoints,
    private readonly options: ScatterOptions = {},
  ) {
    const ctx = canvas.getContext('2d', { alpha: false });
    if (!ctx) throw new Error('this browser gives no 2-D canvas context');
    this.ctx = ctx;
    this.n = points.x.length;
    if (points.y.length !== this.n || points.colours.length !== this.n)
      throw new RangeError(`scatter: ${this.n} x, ${points.y.length} y and ${points.colours.length} colours`);
    const [r, g, b] = options.background ?? [255, 255, 255];
    this.background = packColour(r, g, b);
    this.grid = Math.max(1, Math.min(512, Math.round(Math.sqrt(this.n / 4))));
    const cellOf = new Int32Array(this.n);
    this.cellStart = new Int32Array(this.grid * this.grid + 1);
    for (let i = 0; i < this.n; i++) {
      const c = this.cellIndex(points.x[i]!, points.y[i]!);
      cellOf[i] = c;
      this.cellStart[c + 1]!++;
    }
    for (let c = 0; c < this.grid * this.grid; c++) this.cellStart[c + 1]! += this.cellStart[c]!;
    this.cellItems = new Int32Array(this.n);
    const fill = this.cellStart.slice(0, -1);
    for (let i = 0; i < this.n; i++) this.cellItems[fill[cellOf[i]!]!++] = i;

    canvas.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    canvas.addEventListener('pointerdown', (e) => this.onPointerDown(e));
    canvas.addEventListener('pointermove', (e) => this.onPointerMove(e));
    canvas.addEventListener('pointerup', (e) => this.onPointerUp(e));
    canvas.addEventListener('pointercancel', () => {
      this.drag = null;
    });
    canvas.addEventListener('pointerleave', (e) => {
      if (!this.drag) this.options.onHover?.(null, e.clientX, e.clientY);
    });
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(canvas);
    this.resize();
  }

  /** Marks a selected point and its neighbours with rings (null and [] clear them). */
  highlight(selected: number | null, neighbours: readonly number[]): void {
    this.selected = selected;
    this.neighbours = neighbours;
    this.requestDraw();
  }

  /** Back to the whole map in view. */
  resetView(): void {
    this.zoom = 1;
    this.fit();
    this.requestDraw();
  }

  /** Centres the view on a point, zooming in to at least `minZoom`. */
  focus(index: number, minZoom = 8): void {
    this.zoom = Math.max(this.zoom, minZoom);
    const s = this.fitScale * this.zoom;
    this.tx = this.cssWidth / 2 - this.points.x[index]! * s;
    this.ty = this.cssHeight / 2 - (1 - this.points.y[index]!) * s;
    this.requestDraw();
  }

  /** The CSS pixel position of a point inside the canvas (for tests and tooltips). */
  screenPosition(index: number): { x: number; y: number } {
    const s = this.fitScale * this.zoom;
    return { x: this.tx + this.points.x[index]! * s, y: this.ty + (1 - this.points.y[index]!) * s };
  }

  /**
   * The point nearest to a canvas CSS position within `radius` CSS pixels (default: a few pixels, or half a
   * thumbnail when thumbnails are shown), or null.
   */
  pointAt(px: number, py: number, radius = this.thumbsShown ? THUMB_PX / 2 : HIT_RADIUS_PX): number | null {
    const s = this.fitScale * this.zoom;
    const u = (px - this.tx) / s;
    const v = 1 - (py - this.ty) / s;
    const r = radius / s;
    const g = this.grid;
    const c0 = Math.max(0, Math.floor((u - r) * g));
    const c1 = Math.min(g - 1, Math.floor((u + r) * g));
    const r0 = Math.max(0, Math.floor((v - r) * g));
    const r1 = Math.min(g - 1, Math.floor((v + r) * g));
    let best: number | null = null;
    let bestD = r * r;
    for (let row = r0; row <= r1; row++)
      for (let col = c0; col <= c1; col++) {
        const cell = row * g + col;
        for (let k = this.cellStart[cell]!; k < this.cellStart[cell + 1]!; k++) {
          const i = this.cellItems[k]!;
          const du = this.points.x[i]! - u;
          const dv = this.points.y[i]! - v;
          const d = du * du + dv * dv;
          // The later point wins a tie: it is drawn on top.
          if (d < bestD || (d === bestD && best !== null && i > best)) {
            bestD = d;
            best = i;
          }
        }
      }
    return best;
  }

  destroy(): void {
    this.observer.disconnect();
    cancelAnimationFrame(this.frame);
  }

  private cellIndex(u: number, v: number): number {
    const g = this.grid;
    const col = Math.min(g - 1, Math.max(0, Math.floor(u * g)));
    const row = Math.min(g - 1, Math.max(0, Math.floor(v * g)));
    return row * g + col;
  }

  /** The scale at zoom 1: the unit square fills the smaller side of the canvas, less a margin. */
  private updateFitScale(): void {
    this.fitScale = Math.max(1, Math.min(this.cssWidth, this.cssHeight) - 2 * FIT_MARGIN_PX);
  }

  private fit(): void {
    this.updateFitScale();
    const s = this.fitScale * this.zoom;
    this.tx = (this.cssWidth - s) / 2;
    this.ty = (this.cssHeight - s) / 2;
  }

  private resize(): void {
    const rect = this.canvas.getBoundingClientRect();
    // The observer also reports the size it starts with: nothing to do then.
    if (rect.width === this.cssWidth && rect.height === this.cssHeight && this.dpr === window.devicePixelRatio) return;
    const first = this.cssWidth === 0;
    // Keep the map point at the centre of the view where it was.
    const s = this.fitScale * this.zoom;
    const cu = (this.cssWidth / 2 - this.tx) / s;
    const cv = (this.cssHeight / 2 - this.ty) / s;
    this.cssWidth = Math.max(1, rect.width);
    this.cssHeight = Math.max(1, rect.height);
    this.dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.cssWidth * this.dpr);
    this.canvas.height = Math.round(this.cssHeight * this.dpr);
    this.image = null;
    if (first) this.fit();
    else {
      this.updateFitScale();
      const s2 = this.fitScale * this.zoom;
      this.tx = this.cssWidth / 2 - cu * s2;
      this.ty = this.cssHeight / 2 - cv * s2;
    }
    this.draw();
  }

  private requestDraw(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private draw(): void {
    const t0 = performance.now();
    const w = this.canvas.width;
    const h = this.canvas.height;
    if (!this.image || this.image.width !== w || this.image.height !== h) {
      this.image = this.ctx.createImageData(w, h);
      this.pixels = new Uint32Array(this.image.data.buffer);
    }
    const px = this.pixels!;
    px.fill(this.background);
    const s = this.fitScale * this.zoom * this.dpr;
    const tx = this.tx * this.dpr;
    const ty = this.ty * this.dpr;
    // Square points, a little larger as the view zooms in (side in device pixels).
    const side = Math.max(2, Math.min(Math.round(this.dpr * (2 + Math.log2(this.zoom))), Math.round(8 * this.dpr)));
    const half = side >> 1;
    const { x, y, colours } = this.points;
    let visible = 0;
    for (let i = 0; i < this.n; i++) {
      const cx = Math.floor(tx + x[i]! * s + 0.5) - half;
      const cy = Math.floor(ty + (1 - y[i]!) * s + 0.5) - half;
      if (cx + side <= 0 || cy + side <= 0 || cx >= w || cy >= h) continue;
      visible++;
      const colour = colours[i]!;
      if (cx >= 0 && cy >= 0 && cx + side <= w && cy + side <= h) {
        // Inside the canvas (nearly every point): plain stores, faster than fill() calls for a few pixels a row.
        for (let row = 0, p = cy * w + cx; row < side; row++, p += w) for (let k = 0; k < side; k++) px[p + k] = colour;
      } else {
        const xa = Math.max(0, cx);
        const xb = Math.min(w, cx + side);
        const yb = Math.min(h, cy + side);
        for (let row = Math.max(0, cy); row < yb; row++) px.fill(colour, row * w + xa, row * w + xb);
      }
    }
    this.ctx.putImageData(this.image, 0, 0);

    this.ctx.save();
    this.ctx.scale(this.dpr, this.dpr);
    const maxThumbs = this.options.maxThumbs ?? 300;
    const thumbs = this.options.thumbUrl !== undefined && visible <= maxThumbs;
    this.thumbsShown = thumbs;
    if (thumbs) this.drawThumbs();
    this.drawMarks(thumbs);
    this.ctx.restore();
    this.options.onDraw?.(performance.now() - t0);
  }

  private drawThumbs(): void {
    const s = this.fitScale * this.zoom;
    const { x, y } = this.points;
    for (let i = 0; i < this.n; i++) {
      const cx = this.tx + x[i]! * s;
      const cy = this.ty + (1 - y[i]!) * s;
      if (cx < -THUMB_PX || cy < -THUMB_PX || cx > this.cssWidth + THUMB_PX || cy > this.cssHeight + THUMB_PX) continue;
      this.drawThumb(i);
    }
  }

  /** Point i's thumbnail in a frame of its colour (the thumbnail itself once loaded). */
  private drawThumb(i: number): void {
    const ctx = this.ctx;
    const { x, y } = this.screenPosition(i);
    const left = x - THUMB_PX / 2;
    const top = y - THUMB_PX / 2;
    const c = this.points.colours[i]!;
    const [r, g, b] = LITTLE_ENDIAN
      ? [c & 255, (c >>> 8) & 255, (c >>> 16) & 255]
      : [c >>> 24, (c >>> 16) & 255, (c >>> 8) & 255];
    ctx.fillStyle = `rgb(${r} ${g} ${b})`;
    ctx.fillRect(left - 2, top - 2, THUMB_PX + 4, THUMB_PX + 4);
    const img = this.thumb(i);
    ctx.imageSmoothingEnabled = false;
    if (img.complete && img.naturalWidth > 0) ctx.drawImage(img, left, top, THUMB_PX, THUMB_PX);
  }

  private thumb(index: number): HTMLImageElement {
    let img = this.thumbs.get(index);
    if (!img) {
      if (this.thumbs.size >= THUMB_CACHE_LIMIT) this.thumbs.clear();
      img = new Image();
      img.decoding = 'async';
      img.onload = () => this.requestDraw();
      img.src = this.options.thumbUrl!(index);
      this.thumbs.set(index, img);
    }
    return img;
  }

  /**
   * The selected point (red) and its neighbours (black): rings around points, or frames around thumbnails, which
   * are drawn again on top of any that overlap them.
   */
  private drawMarks(thumbs: boolean): void {
    const ctx = this.ctx;
    const mark = (index: number, radius: number, colour: string, width: number): void => {
      const { x, y } = this.screenPosition(index);
      ctx.beginPath();
      if (thumbs) ctx.rect(x - radius, y - radius, 2 * radius, 2 * radius);
      else ctx.arc(x, y, radius, 0, 2 * Math.PI);
      ctx.lineWidth = width;
      ctx.strokeStyle = colour;
      ctx.stroke();
    };
    const r = thumbs ? THUMB_PX / 2 + 4 : 7;
    for (const i of this.neighbours) {
      if (thumbs) this.drawThumb(i);
      mark(i, r, '#111', 2);
    }
    if (this.selected !== null) {
      if (thumbs) this.drawThumb(this.selected);
      mark(this.selected, r + 3, '#fff', 4);
      mark(this.selected, r + 3, '#d00', 2);
    }
  }

  private localPoint(e: MouseEvent): { x: number; y: number } {
    const rect = this.canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  }

  private onWheel(e: WheelEvent): void {
    e.preventDefault();
    const p = this.localPoint(e);
    // deltaMode 1 counts lines; about 16 pixels each.
    const dy = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
    const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.zoom * Math.exp(-dy * 0.002)));
    const k = zoom / this.zoom;
    // The map point under the pointer stays under it.
    this.tx = p.x - (p.x - this.tx) * k;
    this.ty = p.y - (p.y - this.ty) * k;
    this.zoom = zoom;
    this.requestDraw();
  }

  private onPointerDown(e: PointerEvent): void {
    if (e.button !== 0) return;
    const p = this.localPoint(e);
    this.drag = { x: p.x, y: p.y, tx: this.tx, ty: this.ty, moved: false, id: e.pointerId };
    this.canvas.setPointerCapture(e.pointerId);
  }

  private onPointerMove(e: PointerEvent): void {
    const p = this.localPoint(e);
    if (this.drag && this.drag.id === e.pointerId) {
      const dx = p.x - this.drag.x;
      const dy = p.y - this.drag.y;
      if (!this.drag.moved && Math.hypot(dx, dy) < CLICK_SLOP_PX) return;
      if (!this.drag.moved) this.options.onHover?.(null, e.clientX, e.clientY);
      this.drag.moved = true;
      this.tx = this.drag.tx + dx;
      this.ty = this.drag.ty + dy;
      this.canvas.style.cursor = 'grabbing';
      this.requestDraw();
      return;
    }
    const hit = this.pointAt(p.x, p.y);
    this.canvas.style.cursor = hit === null ? 'grab' : 'pointer';
    this.options.onHover?.(hit, e.clientX, e.clientY);
  }

  private onPointerUp(e: PointerEvent): void {
    const drag = this.drag;
    if (!drag || drag.id !== e.pointerId) return;
    this.drag = null;
    this.canvas.style.cursor = 'grab';
    if (drag.moved) return;
    const p = this.localPoint(e);
    const hit = this.pointAt(p.x, p.y);
    if (hit !== null) this.options.onSelect?.(hit);
  }
}
