#!/usr/bin/env node
// Runs the gateway service as its own process. Settings: LLMMESH_CONFIG, HOST, PORT,
// and the addresses of the services it calls (see README, "Mesh mode").
import { runMain, runProcess } from "@llmmesh/common";
import { gatewayComponent } from "./component.js";

runMain(() => runProcess([gatewayComponent]));
