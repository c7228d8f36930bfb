/** A finite state machine driven by a transition table, as Dragonfly's peer and task FSMs. */
import { InvalidStateTransition } from "../../common/errors.ts";

/** One row of a transition table: an event moves any of `from` to `to`. */
export interface Transition<S extends string, E extends string> {
  readonly event: E;
  readonly from: readonly S[];
  readonly to: S;
}

/** A state machine over a fixed table; `transition()` throws on a move the table does not allow. */
export class StateMachine<S extends string, E extends string> {
  private current: S;
  private readonly table: ReadonlyMap<E, { from: ReadonlySet<S>; to: S }>;

  constructor(readonly machine: string, initial: S, transitions: readonly Transition<S, E>[]) {
    this.current = initial;
    const table = new Map<E, { from: ReadonlySet<S>; to: S }>();
    for (const row of transitions) table.set(row.event, { from: new Set(row.from), to: row.to });
    this.table = table;
  }

  /** The current state. */
  get state(): S {
    return this.current;
  }

  /** Whether the current state is one of `states`. */
  is(...states: S[]): boolean {
    return states.includes(this.current);
  }

  /** Whether `event` is allowed now. */
  can(event: E): boolean {
    return this.table.get(event)?.from.has(this.current) ?? false;
  }

  /** Applies `event` and returns the previous state; throws InvalidStateTransition if not allowed. */
  transition(event: E): S {
    const row = this.table.get(event);
    if (!row || !row.from.has(this.current)) throw new InvalidStateTransition(this.machine, this.current, event);
    const previous = this.current;
    this.current = row.to;
    return previous;
  }
}
