#!/usr/bin/env node
// `npm start`: every service in one process (all-in-one), or the subset named
// by LLMMESH_SERVICES (e.g. "gateway,router,policy"), the rest reached over
// the network at the addresses config and environment give.
import { runMain } from "@llmmesh/common/boot";

// Loaded inside runMain, not imported above: see runMain.
runMain(async () => {
  const [{ runProcess }, { parsePlacement }] = await Promise.all([import("@llmmesh/common"), import("./placement.js")]);
  return runProcess(parsePlacement(process.env.LLMMESH_SERVICES));
});
