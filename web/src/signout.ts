/** Signing out: the manager revokes the session, the console forgets it. */
import { call } from "./api.ts";
import { me } from "./me.ts";
import { navigate } from "./router.ts";
import { endSession } from "./session.ts";

/** Revokes the session on the manager and forgets it here; `reason` is shown on the sign-in page. */
export async function signOut(reason: string | null = null): Promise<void> {
  try {
    await call("POST", "/api/v1/users/signout");
  } catch {
    // Already invalid: forgetting it locally is all that is left.
  }
  me.value = null;
  endSession(reason);
  navigate("/signin");
}
