import type { Component, ComponentName } from "@llmmesh/common";
import { policyComponent } from "@llmmesh/policy";
import { routerComponent } from "@llmmesh/router";
import { openAIAdapterComponent } from "@llmmesh/adapter-openai";
import { customAdapterComponent } from "@llmmesh/adapter-custom";
import { gatewayComponent } from "@llmmesh/gateway";

/** Every service, in the order a process lists them. The gateway first: its port is the process's default. */
export const ALL_COMPONENTS: readonly Component[] = [
  gatewayComponent,
  routerComponent,
  policyComponent,
  openAIAdapterComponent,
  customAdapterComponent,
];

/**
 * Parses a placement: "all", or a comma-separated list of service names
 * (e.g. "gateway,router,policy" with the adapters running apart).
 */
export function parsePlacement(spec: string | undefined): Component[] {
  if (spec === undefined || spec.trim() === "" || spec.trim() === "all") return [...ALL_COMPONENTS];
  const names = spec.split(",").map((s) => s.trim()).filter(Boolean);
  const known = new Map(ALL_COMPONENTS.map((c) => [c.name, c]));
  const unknown = names.filter((n) => !known.has(n as ComponentName));
  if (unknown.length > 0) {
    throw new Error(`unknown service ${unknown.map((n) => `"${n}"`).join(", ")} in LLMMESH_SERVICES; known: ${[...known.keys()].join(", ")}, or all`);
  }
  return ALL_COMPONENTS.filter((c) => names.includes(c.name));
}
