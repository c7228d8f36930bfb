/** Data loading hooks: one request with loading and error state, and polling while a condition holds. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

/** The state of one asynchronous load. */
export interface Async<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  /** Loads again; keeps the old data on screen meanwhile. */
  reload(): void;
}

/** Runs `load` when `deps` change; a stale answer never overwrites a newer one. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const run = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    loadRef.current().then(
      (data) => mine === generation.current && setState({ data, loading: false }),
      (error: unknown) =>
        mine === generation.current && setState((s) => ({ data: s.data, error: error instanceof Error ? error : new Error(String(error)), loading: false })),
    );
  }, []);
  useEffect(() => {
    run();
    return () => {
      generation.current++;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return { data: state.data, error: state.error, loading: state.loading, reload: run };
}

/** Calls `tick` every `ms` while `active`; stops when the page is hidden. */
export function useInterval(tick: () => void, ms: number, active: boolean): void {
  const saved = useRef(tick);
  saved.current = tick;
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") saved.current();
    }, ms);
    return () => clearInterval(timer);
  }, [ms, active]);
}
