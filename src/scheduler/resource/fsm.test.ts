import { expect, test } from "bun:test";
import { InvalidStateTransition } from "../../common/errors.ts";
import { StateMachine } from "./fsm.ts";
import { PEER_TRANSITIONS, PeerEvent, PeerState } from "./peer.ts";
import { TASK_TRANSITIONS, TaskEvent, TaskState } from "./task.ts";

const peerFsm = (initial: PeerState = PeerState.Pending) => new StateMachine("peer", initial, PEER_TRANSITIONS);
const taskFsm = (initial: TaskState = TaskState.Pending) => new StateMachine("task", initial, TASK_TRANSITIONS);

test("peer FSM: register, download, back-to-source and succeed in Dragonfly's order", () => {
  const fsm = peerFsm();
  fsm.transition(PeerEvent.RegisterNormal);
  expect(fsm.state).toBe(PeerState.ReceivedNormal);
  fsm.transition(PeerEvent.Download);
  expect(fsm.state).toBe(PeerState.Running);
  fsm.transition(PeerEvent.DownloadBackToSource);
  expect(fsm.state).toBe(PeerState.BackToSource);
  fsm.transition(PeerEvent.DownloadSucceeded);
  expect(fsm.state).toBe(PeerState.Succeeded);
  fsm.transition(PeerEvent.DownloadFailed);
  expect(fsm.state).toBe(PeerState.Failed);
  fsm.transition(PeerEvent.Leave);
  expect(fsm.state).toBe(PeerState.Leave);
});

test("peer FSM: each register event reaches its Received state", () => {
  const pairs: [PeerEvent, PeerState][] = [
    [PeerEvent.RegisterEmpty, PeerState.ReceivedEmpty],
    [PeerEvent.RegisterTiny, PeerState.ReceivedTiny],
    [PeerEvent.RegisterSmall, PeerState.ReceivedSmall],
    [PeerEvent.RegisterNormal, PeerState.ReceivedNormal],
  ];
  for (const [event, state] of pairs) {
    const fsm = peerFsm();
    fsm.transition(event);
    expect(fsm.state).toBe(state);
    fsm.transition(PeerEvent.DownloadSucceeded);
    expect(fsm.state).toBe(PeerState.Succeeded);
  }
});

test("peer FSM: illegal moves throw InvalidStateTransition naming state and event", () => {
  expect(() => peerFsm().transition(PeerEvent.Download)).toThrow(InvalidStateTransition);
  expect(() => peerFsm().transition(PeerEvent.Download)).toThrow('Invalid peer transition: event "Download" in state "Pending"');
  expect(() => peerFsm(PeerState.Succeeded).transition(PeerEvent.DownloadBackToSource)).toThrow(InvalidStateTransition);
  expect(() => peerFsm(PeerState.Running).transition(PeerEvent.RegisterNormal)).toThrow(InvalidStateTransition);
  expect(() => peerFsm(PeerState.Leave).transition(PeerEvent.Leave)).toThrow(InvalidStateTransition);
  expect(() => peerFsm(PeerState.Failed).transition(PeerEvent.DownloadSucceeded)).toThrow(InvalidStateTransition);
  const fsm = peerFsm(PeerState.Running);
  expect(fsm.can(PeerEvent.Download)).toBe(false);
  expect(fsm.can(PeerEvent.DownloadFailed)).toBe(true);
});

test("peer FSM: Leave is reachable from every state but Leave", () => {
  for (const state of Object.values(PeerState)) {
    expect(peerFsm(state).can(PeerEvent.Leave)).toBe(state !== PeerState.Leave);
  }
});

test("task FSM: Download from Pending, Succeeded, Failed and Leave; DownloadFailed only from Running", () => {
  for (const state of [TaskState.Pending, TaskState.Succeeded, TaskState.Failed, TaskState.Leave]) {
    const fsm = taskFsm(state);
    fsm.transition(TaskEvent.Download);
    expect(fsm.state).toBe(TaskState.Running);
  }
  expect(() => taskFsm(TaskState.Running).transition(TaskEvent.Download)).toThrow(InvalidStateTransition);
  expect(() => taskFsm(TaskState.Succeeded).transition(TaskEvent.DownloadFailed)).toThrow(InvalidStateTransition);
  expect(() => taskFsm(TaskState.Pending).transition(TaskEvent.DownloadSucceeded)).toThrow(InvalidStateTransition);
  const fsm = taskFsm(TaskState.Running);
  fsm.transition(TaskEvent.DownloadFailed);
  fsm.transition(TaskEvent.DownloadSucceeded);
  expect(fsm.state).toBe(TaskState.Succeeded);
  fsm.transition(TaskEvent.Leave);
  expect(() => fsm.transition(TaskEvent.Leave)).toThrow('Invalid task transition: event "Leave" in state "Leave"');
});
