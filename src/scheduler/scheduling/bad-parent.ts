/** Bad-parent detection (Dragonfly's IsBadParent), with a realistic sample threshold for the 3σ rule. */
import { PeerState, type Peer } from "../resource/peer.ts";

/** Samples from which the mean + 3σ rule replaces the 20 × mean rule (Dragonfly needs 2000). */
export const BAD_PARENT_SIGMA_SAMPLES = 30;
/** The multiple of the mean beyond which a sample is an outlier while samples are few. */
export const BAD_PARENT_MEAN_MULTIPLE = 20;

/**
 * Whether the newest sample is an outlier against the ones before it: fewer than 2 samples never are;
 * below `sigmaSamples` the newest must exceed 20 × the mean; from then on, the mean + 3 population σ.
 */
export function isCostOutlier(samples: readonly number[], sigmaSamples = BAD_PARENT_SIGMA_SAMPLES): boolean {
  const n = samples.length;
  if (n < 2) return false;
  const last = samples[n - 1]!;
  let sum = 0;
  for (let i = 0; i < n - 1; i++) sum += samples[i]!;
  const mean = sum / (n - 1);
  if (n < sigmaSamples) return last > BAD_PARENT_MEAN_MULTIPLE * mean;
  let squares = 0;
  for (let i = 0; i < n - 1; i++) squares += (samples[i]! - mean) ** 2;
  const sigma = Math.sqrt(squares / (n - 1));
  return last > mean + 3 * sigma;
}

/**
 * Whether a peer must not be offered as a parent: it is not Running, BackToSource or Succeeded (or
 * ReceivedNormal with parents already given, i.e. about to start: this lets a first wave of peers that
 * registered together feed each other), or its latest piece upload (cost per byte, as measured by its
 * children) is an outlier.
 */
export function isBadParent(parent: Peer, sigmaSamples = BAD_PARENT_SIGMA_SAMPLES): boolean {
  const starting = parent.state === PeerState.ReceivedNormal && parent.task.dag.inDegree(parent.id) > 0;
  if (!starting && !parent.fsm.is(PeerState.Running, PeerState.BackToSource, PeerState.Succeeded)) return true;
  return isCostOutlier(parent.uploadCosts.toArray(), sigmaSamples);
}
