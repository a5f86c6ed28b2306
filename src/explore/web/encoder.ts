// The run's encoder in the browser: an image file decoded to RGBA by the browser, preprocess() (the very function
// the server's POST /api/embed calls, src/explore/preprocess.ts), then the exported ONNX graph on onnxruntime-web's
// wasm backend. The page's import map points 'onnxruntime-web/wasm' at the server's /vendor/ort/ copy.
import type * as Ort from 'onnxruntime-web';
import { preprocess } from '../preprocess.js';
import type { ExploreInfo } from './api.js';

/** Where the server serves onnxruntime-web's dist/ files (its .mjs loader and .wasm binary). */
const ORT_VENDOR_PATH = '/vendor/ort/';

export interface DecodedImage {
  /** width * height * 4 bytes, row-major RGBA. */
  rgba: Uint8ClampedArray;
  width: number;
  height: number;
  /** Whether any pixel is not fully opaque (see decodeImage). */
  translucent: boolean;
}

/**
 * Decodes an image file with the browser's own decoders into sRGB bytes, without premultiplying alpha. An image
 * with an embedded colour profile other than sRGB is converted to sRGB, as the server's decode (sharp) converts it:
 * the two colour engines (Chromium's skcms, sharp's lcms2) round differently, so such images embed a few 1e-3
 * apart; untagged and sRGB images come out byte for byte as the server decodes them ('none' would skip the
 * conversion and leave a P3 image 0.1 apart). CMYK JPEGs are not comparable (the engines differ more).
 *
 * The bytes are read back through a 2-D canvas, which stores premultiplied alpha: the RGB of pixels that are not
 * fully opaque can come back rounded (fully transparent ones as black), so `translucent` images may embed slightly
 * differently from the server's decode. Opaque images come back exactly as decoded.
 * @throws Error naming the file when the browser cannot decode it
 */
export async function decodeImage(file: Blob, name = 'the file'): Promise<DecodedImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: 'default', premultiplyAlpha: 'none' });
  } catch {
    throw new Error(`${name}: not an image this browser can decode`);
  }
  try {
    const { width, height } = bitmap;
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('this browser gives no 2-D canvas context to read image pixels with');
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, width, height).data;
    let translucent = false;
    for (let i = 3; i < rgba.length; i += 4)
      if (rgba[i]! !== 255) {
        translucent = true;
        break;
      }
    return { rgba, width, height, translucent };
  } finally {
    bitmap.close();
  }
}

/** An ONNX Runtime session on the run's exported encoder (GET /model.onnx): image in, features h out. */
export class BrowserEncoder {
  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    private readonly info: ExploreInfo,
  ) {}

  /**
   * Loads onnxruntime-web (wasm backend, one thread: several need cross-origin isolation, which a local page does
   * not have) and the model. Rejects with onnxruntime's own message when the model or the runtime cannot be loaded.
   */
  static async load(info: ExploreInfo): Promise<BrowserEncoder> {
    const ort = await import('onnxruntime-web/wasm');
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.wasmPaths = ORT_VENDOR_PATH;
    const session = await ort.InferenceSession.create(info.onnx.url, { executionProviders: ['wasm'] });
    for (const [what, name, names] of [
      ['input', info.onnx.inputName, session.inputNames],
      ['output', info.onnx.outputName, session.outputNames],
    ] as const)
      if (!names.includes(name))
        throw new Error(`${info.onnx.url}: the model has no ${what} '${name}' (it has ${names.join(', ')})`);
    return new BrowserEncoder(ort, session, info);
  }

  /** The image's features h: float32 [info.dim]. */
  async embed(image: DecodedImage): Promise<Float32Array> {
    const { input, onnx, dim } = this.info;
    const x = preprocess(image.rgba, image.width, image.height, input);
    const feeds = {
      [onnx.inputName]: new this.ort.Tensor('float32', x, [1, input.channels, input.height, input.width]),
    };
    const out = await this.session.run(feeds);
    const h = out[onnx.outputName]!;
    try {
      if (h.type !== 'float32' || h.size !== dim)
        throw new Error(
          `the model gave ${h.type} [${h.dims.join(', ')}] where [1, ${dim}] float32 features were expected`,
        );
      return Float32Array.from(h.data as Float32Array);
    } finally {
      h.dispose();
    }
  }
}
