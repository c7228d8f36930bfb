/** The tasks known to this scheduler. */
import { Task, type TaskOptions } from "./task.ts";

/** Tasks by ID. */
export class TaskManager {
  private readonly tasks = new Map<string, Task>();

  get size(): number {
    return this.tasks.size;
  }

  load(id: string): Task | undefined {
    return this.tasks.get(id);
  }

  /** The task with this ID, created with `options` if new. */
  loadOrCreate(id: string, options: TaskOptions): Task {
    let task = this.tasks.get(id);
    if (!task) {
      task = new Task(id, options);
      this.tasks.set(id, task);
    }
    return task;
  }

  delete(id: string): void {
    this.tasks.delete(id);
  }

  all(): Task[] {
    return [...this.tasks.values()];
  }
}
