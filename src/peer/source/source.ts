/** The interface every back-to-source backend implements, and the registry that picks one by URL scheme. */
import { InvalidArgument } from "../../common/errors.ts";

/** What a backend needs to reach an object. */
export interface SourceRequest {
  url: string;
  header: Record<string, string>;
  signal?: AbortSignal;
}

/** The size and headers of an object. */
export interface StatResult {
  contentLength: number;
  header: Record<string, string>;
  statusCode: number;
}

/** A byte range. */
export interface ByteRange {
  start: number;
  length: number;
}

/** An open read of an object (or a range of it). */
export interface GetResult {
  body: ReadableStream<Uint8Array>;
  header: Record<string, string>;
  statusCode: number;
}

/** A directory entry of a listing. */
export interface SourceEntry {
  url: string;
  contentLength: number;
  isDir: boolean;
}

/** A back-to-source backend. */
export interface Source {
  /** Size and headers; throws SourceError with the origin's status on failure. */
  stat(request: SourceRequest): Promise<StatResult>;
  /** Reads the object or a range of it; throws SourceError with the origin's status on failure. */
  get(request: SourceRequest & { range?: ByteRange }): Promise<GetResult>;
  /** Lists a directory URL, when the backend has directories. */
  list?(request: SourceRequest): Promise<SourceEntry[]>;
}

/** Backends by URL scheme (without the colon). */
export class SourceRegistry {
  private readonly sources = new Map<string, Source>();

  /** Registers a backend for one or more schemes. */
  register(schemes: string[], source: Source): this {
    for (const scheme of schemes) this.sources.set(scheme, source);
    return this;
  }

  /** The backend of a URL, or InvalidArgument naming the scheme. */
  for(url: string): Source {
    let scheme: string;
    try {
      scheme = new URL(url).protocol.replace(/:$/, "");
    } catch (cause) {
      throw new InvalidArgument(`Invalid URL "${url}": cannot be parsed`, { cause });
    }
    const source = this.sources.get(scheme);
    if (!source) throw new InvalidArgument(`Invalid URL "${url}": unsupported scheme "${scheme}"`);
    return source;
  }
}
