#!/usr/bin/env node
// Runs the policy service as its own process. Settings: LLMMESH_CONFIG, HOST, PORT,
// and the addresses of the services it calls (see README, "Mesh mode").
import { runMain } from "@llmmesh/common/boot";

// Loaded inside runMain, not imported above: see runMain.
runMain(async () => {
  const [{ runProcess }, { policyComponent }] = await Promise.all([import("@llmmesh/common"), import("./component.js")]);
  return runProcess([policyComponent]);
});
