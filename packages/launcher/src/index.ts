/** Runs any subset of the LLM Mesh services in one process (all of them by default). */
export { ALL_COMPONENTS, parsePlacement } from "./placement.js";
