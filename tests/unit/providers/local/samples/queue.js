'use strict';
/**
 * An in-memory job queue with retries.
 */
const EventEmitter = require('events');
const { setTimeout } = require('timers/promises');

const DEFAULT_RETRIES = 3;

class Queue extends EventEmitter {
  constructor(worker, { retries = DEFAULT_RETRIES } = {}) {
    super();
    this.worker = worker;
    this.retries = retries;
  }

  /** Adds a job; resolves when it has run. */
  async push(job) {
    return this.#run(job, 0);
  }

  async #run(job, attempt) {
    return this.worker(job);
  }
}

function createQueue(worker, options) {
  return new Queue(worker, options);
}

module.exports = { Queue, createQueue };
