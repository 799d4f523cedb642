// Small statistics helpers shared by the workers and the report.

/**
 * @typedef {object} Distribution
 * @property {number} count
 * @property {number | null} mean
 * @property {number | null} p50
 * @property {number | null} p90
 * @property {number | null} p99
 * @property {number | null} max
 */

/**
 * Percentiles by nearest rank over the samples (sorted in place).
 * @param {number[] | Float64Array} samples
 * @returns {Distribution}
 */
export function distribution(samples) {
  const count = samples.length;
  if (count === 0) return { count, mean: null, p50: null, p90: null, p99: null, max: null };
  const sorted = samples instanceof Float64Array ? samples.sort() : Float64Array.from(samples).sort();
  /** @param {number} q */
  const at = (q) => sorted[Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1))];
  let sum = 0;
  for (const value of sorted) sum += value;
  return { count, mean: sum / count, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[count - 1] };
}

/**
 * A growable array of float samples (latencies in ms), cheap to append to at high rates.
 */
export class Samples {
  #data = new Float64Array(1 << 14);
  #length = 0;

  /** @param {number} value */
  push(value) {
    if (this.#length === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#length++] = value;
  }

  get length() {
    return this.#length;
  }

  /** @returns {Distribution} */
  distribution() {
    return distribution(this.#data.slice(0, this.#length));
  }
}

/**
 * The median of the known values; null when there are none.
 * @param {(number | null | undefined)[]} values
 * @returns {number | null}
 */
export function median(values) {
  const known = /** @type {number[]} */ (values.filter((v) => v !== null && v !== undefined && Number.isFinite(v))).sort((a, b) => a - b);
  if (known.length === 0) return null;
  const middle = Math.floor(known.length / 2);
  return known.length % 2 === 1 ? known[middle] : (known[middle - 1] + known[middle]) / 2;
}
