#!/usr/bin/env node
// `npm start`: every service in one process (all-in-one), or the subset named
// by LLMMESH_SERVICES (e.g. "gateway,router,policy"), the rest reached over
// the network at the addresses config and environment give.
import { runMain, runProcess } from "@llmmesh/common";
import { parsePlacement } from "./placement.js";

runMain(() => runProcess(parsePlacement(process.env.LLMMESH_SERVICES)));
