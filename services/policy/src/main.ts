#!/usr/bin/env node
// Runs the policy service as its own process. Settings: LLMMESH_CONFIG, HOST, PORT,
// and the addresses of the services it calls (see README, "Mesh mode").
import { runMain, runProcess } from "@llmmesh/common";
import { policyComponent } from "./component.js";

runMain(() => runProcess([policyComponent]));
