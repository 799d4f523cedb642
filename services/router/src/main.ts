#!/usr/bin/env node
// Runs the router service as its own process. Settings: LLMMESH_CONFIG, HOST, PORT,
// and the addresses of the services it calls (see README, "Mesh mode").
import { runMain, runProcess } from "@llmmesh/common";
import { routerComponent } from "./component.js";

runMain(() => runProcess([routerComponent]));
