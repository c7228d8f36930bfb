/** A peer's priority: its own, else its application's (URL rules first), else LEVEL0. */
import { Priority } from "../../gen/common/v2/common_pb.ts";
import type { Application } from "../../gen/manager/v2/manager_pb.ts";

/** Dragonfly's CalculatePriority. */
export function calculatePriority(
  requested: Priority,
  url: string,
  application: string | undefined,
  applications: readonly Application[],
): Priority {
  if (requested !== Priority.LEVEL0) return requested;
  if (!application) return Priority.LEVEL0;
  const app = applications.find((a) => a.name === application);
  if (!app?.priority) return Priority.LEVEL0;
  for (const rule of app.priority.urls) {
    try {
      if (new RegExp(rule.regex).test(url)) return rule.value;
    } catch {
      // An application's bad regex must not stop scheduling; the rule is skipped.
    }
  }
  return app.priority.value;
}
