// @ts-check
// Types shared by the front-end modules (JSDoc only; nothing at run time). The view model's types are
// generated from tfwidget/contracts.py into contracts.gen.js.

/**
 * The anywidget model a view talks through (or a session's per-turn proxy of it).
 * @typedef {object} Model
 * @property {(name: string) => any} get
 * @property {(event: string, fn: (...args: any[]) => void) => void} on
 * @property {(event: string, fn?: (...args: any[]) => void) => void} off
 * @property {(msg: any, callbacks?: any, buffers?: any[]) => void} send
 * @property {(name: string, value: any) => void} [set]
 * @property {() => void} [save_changes]
 */

export {};
