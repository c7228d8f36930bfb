/** The test file: random bytes with a known sha256, and checks of the copies. */
import { randomFillSync } from "node:crypto";
import { open } from "node:fs/promises";

const CHUNK = 16 * 1024 * 1024;

/** Writes `size` random bytes to `path` and returns their sha256 (hex). */
export async function makeRandomFile(path: string, size: number): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  const handle = await open(path, "w");
  try {
    const buffer = Buffer.alloc(Math.min(CHUNK, size));
    for (let written = 0; written < size; ) {
      const n = Math.min(buffer.length, size - written);
      const chunk = buffer.subarray(0, n);
      randomFillSync(chunk);
      hasher.update(chunk);
      await handle.write(chunk, 0, n, written);
      written += n;
    }
  } finally {
    await handle.close();
  }
  return hasher.digest("hex");
}

/** The sha256 (hex) of the file at `path`, or null when it does not exist. */
export async function sha256File(path: string): Promise<string | null> {
  const file = Bun.file(path);
  if (!(await file.exists())) return null;
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of file.stream()) hasher.update(chunk);
  return hasher.digest("hex");
}
