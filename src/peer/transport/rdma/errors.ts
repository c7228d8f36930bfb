/** Errors of the RDMA transport. */
import { TransferError } from "../../../common/errors.ts";

/** RDMA cannot be used or failed for one piece; the caller falls back to TCP. */
export class RdmaError extends TransferError {}
