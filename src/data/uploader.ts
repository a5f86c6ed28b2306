// Host batches to the training device. On the CPU a batch is simply wrapped as a tensor; on CUDA its bytes are staged
// in pinned (page-locked) host memory and copied with non_blocking, so the host never waits for the GPU to take them
// and can read the next batch while the current step runs (as PyTorch's DataLoader(pin_memory=True) with
// .to(device, non_blocking=True)).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

export class BatchUploader {
  private readonly slots: Tensor[] = [];
  private next = 0;

  /**
   * @param shape the batch's shape, e.g. uint8 [B, C, H, W]
   * @param device 'cpu' or 'cuda:N'
   * @param slots pinned staging buffers used in turn (CUDA only). A slot is written again `slots` uploads later, so
   *   the caller must by then have waited for the device to finish the copy out of it. pretrain() uploads batch k+1
   *   while step k computes, and has waited for step k-1 (whose batch used the other slot) before: two slots do.
   */
  constructor(
    readonly shape: readonly number[],
    readonly device: string,
    slots = 2,
  ) {
    if (device !== 'cpu') {
      for (let i = 0; i < slots; i++) this.slots.push(torch.empty(shape, { dtype: 'uint8', pinMemory: true }).keep());
    }
  }

  /**
   * The batch as a uint8 tensor of `shape` on the device. @throws RangeError if `bytes` is not the batch's size.
   * The returned tensor is the caller's (disposed by its scope).
   */
  upload(bytes: Uint8Array): Tensor {
    const expected = this.shape.reduce((a, b) => a * b, 1);
    if (bytes.length !== expected)
      throw new RangeError(`BatchUploader: ${bytes.length} bytes for a [${this.shape.join(', ')}] batch (${expected})`);
    if (this.device === 'cpu') return torch.tensor(bytes, { shape: [...this.shape] });
    const slot = this.slots[this.next]!;
    this.next = (this.next + 1) % this.slots.length;
    slot.copyFromBuffer_(bytes);
    return slot.to({ device: this.device, nonBlocking: true });
  }

  dispose(): void {
    for (const s of this.slots) s.dispose();
    this.slots.length = 0;
  }
}
