// startReplica(options) → Promise<Replica>: one replica of the replicated KV service
// (engine/kv_replica.h) driven from JavaScript. The data path stays native: the engine thread runs
// replication, failure detection and the RESP front end; JavaScript only configures, observes and
// stops it. TypeScript types: node-agent/src/native/engine.ts (ReplicaOptions, Replica).
//
// Threads and ownership (the contract the implementation keeps):
//  - startReplica parses and validates options on the JS thread (a TypeError naming the option),
//    then sets the replica up on a worker thread (bootstrap exchange with peers may take seconds).
//  - execute(argv) hands the command to the engine thread; the reply comes back through a
//    thread-safe function (never blocking the engine thread) and settles the promise on the JS
//    thread. While replies are outstanding the Replica object and the event loop are kept alive.
//  - Events are taken from the engine by a small native poller thread and delivered to
//    options.onEvent through a second thread-safe function (unref'd: it does not keep the process
//    alive on its own).
//  - stop() joins the poller and the engine thread on a worker thread, then rejects commands still
//    outstanding (code MU_REPLICA_STOPPED) and closes the channels on the JS thread.
//  - If the Replica object is garbage-collected without stop(), its finalizer stops the engine;
//    at environment teardown (process exit, worker exit) a cleanup hook does, before Node closes
//    the thread-safe functions the engine thread could still call.
#pragma once

#include <napi.h>

namespace mu::binding {

// Adds startReplica and the Replica class to `exports`.
void InitReplica(Napi::Env env, Napi::Object exports);

}  // namespace mu::binding
