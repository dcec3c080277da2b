// @ts-check
// Types shared by the front-end modules (JSDoc only; nothing at run time). The view model's types are
// generated from tfwidget/contracts.py into contracts.gen.js; the shapes here are the ones Python sends as
// plain dicts (spans, usage rows, traits of the session and the player).

/**
 * The anywidget model a view talks through (or a session's per-turn proxy of it). Trait values and
 * messages are whatever Python sent: each reader says which shape it expects.
 * @typedef {object} Model
 * @property {(name: string) => any} get
 * @property {(event: string, fn: (...args: any[]) => void) => void} on
 * @property {(event: string, fn?: (...args: any[]) => void) => void} off
 * @property {(msg: any, callbacks?: any, buffers?: any[]) => void} send
 * @property {(name: string, value: any) => void} set
 * @property {() => void} save_changes
 */

/**
 * One span of the view's `spans` (tfwidget/timing.py `spans_view`; times in epoch ms).
 * @typedef {object} SpanView
 * @property {"turn" | "thread" | "model_call" | "tool_call" | "pause"} kind
 * @property {string} id
 * @property {string | null} [parent_id]
 * @property {string | null} [thread_id]
 * @property {string | null} [name]
 * @property {string | null} [status]
 * @property {number | null} [start_ms]
 * @property {number | null} [first_ms]
 * @property {number | null} [end_ms]
 * @property {string} [time_source]
 * @property {number | null} [total_cost_usd]
 * @property {number | null} [cost_usd]
 * @property {string | null} [cost_source]
 * @property {number | null} [input_tokens]
 * @property {number | null} [output_tokens]
 * @property {number | null} [cache_read_tokens]
 * @property {string | null} [model]
 * @property {number | null} [context_window]
 * @property {string} [tool_call_id]
 */

/**
 * A usage record: a row of the view's `usage` (flat token and breakdown keys, with the call's message and
 * thread), or a message's own `usage` (with an `input_tokens_breakdown` object).
 * @typedef {object} UsageRecord
 * @property {string} [message_id]
 * @property {string | null} [thread_id]
 * @property {number | null} [input_tokens]
 * @property {number | null} [output_tokens]
 * @property {number | null} [cache_read_tokens]
 * @property {number | null} [cache_write_tokens]
 * @property {Record<string, number | null> | null} [input_tokens_breakdown]
 */

/** A row of the view's `usage`: one model call's usage (tfwidget/view.py `_usage_row`). @typedef {UsageRecord & {message_id: string, thread_id: string | null}} UsageRow */

/**
 * The turn's token totals and cost, each field with where it came from (tfwidget/state.py `totals`):
 * `sources` maps each field to "metrics" or "usage" (cost_usd: "metrics" or null); `source` is the one
 * every token field agrees on, else "mixed".
 * @typedef {object} Totals
 * @property {number} input_tokens
 * @property {number} output_tokens
 * @property {number} cache_read_tokens
 * @property {number} cache_write_tokens
 * @property {number} total_tokens
 * @property {number | null} cost_usd
 * @property {"metrics" | "usage" | "mixed"} source
 * @property {Record<string, string>} sources
 */

/**
 * An image of a message (tfwidget/artifacts.py `classify_image_url`).
 * @typedef {object} ImageView
 * @property {"data" | "remote" | "refused"} kind
 * @property {string} [src]
 * @property {string} [mime]
 * @property {string} [host]
 * @property {string} [url]
 * @property {string} [reason]
 */

/**
 * A file of a user message (tfwidget/artifacts.py `input_files`).
 * @typedef {object} InputFile
 * @property {string} name
 * @property {string | null} [mime]
 * @property {number | null} [size]
 * @property {string | null} [thumbnail]
 */

/**
 * A sandbox file a message lists (`error`: why its path is refused).
 * @typedef {object} ArtifactView
 * @property {string} path
 * @property {string} [label]
 * @property {string} [name]
 * @property {string | null} [error]
 */

/**
 * Where an offloaded tool result was moved (tfwidget/artifacts.py `find_offloaded`).
 * @typedef {object} OffloadedView
 * @property {string} path
 * @property {number | null} [size]
 * @property {string | null} [unit]
 */

/**
 * A sandbox file Python fetched for the page (an `artifact_data` message with its bytes).
 * @typedef {object} FetchedFile
 * @property {string} path
 * @property {string} [name]
 * @property {number} [size]
 * @property {string | null} [content_type]
 * @property {Uint8Array<ArrayBuffer>} bytes
 */

/**
 * The controls' state (the `_session.controls` of a session view; tfwidget/_session_ui.py `controls`).
 * @typedef {object} ControlsState
 * @property {string | null} [session_id]
 * @property {string | null} [agent_name]
 * @property {import("./contracts.gen.js").ViewStatus | "empty"} [status] the newest turn's status
 * @property {number} [turns]
 * @property {"send" | "resume" | "cancel" | null} [busy]
 * @property {boolean} [closed]
 * @property {boolean} [can_send]
 * @property {boolean} [can_cancel]
 * @property {boolean} [can_resume]
 * @property {string[]} [pending]
 * @property {number} [decided]
 * @property {import("./contracts.gen.js").Notice[]} [notices]
 */

/**
 * One turn of a session view's `_session` trait.
 * @typedef {object} SessionTurn
 * @property {string} key
 * @property {string | null} [turn_id]
 * @property {import("./contracts.gen.js").TurnActions} [actions]
 */

/**
 * A session view's `_session` trait.
 * @typedef {object} SessionState
 * @property {SessionTurn[]} [turns]
 * @property {ControlsState} [controls]
 */

/**
 * A PlayerView's `_player_meta` trait (tfwidget/player.py).
 * @typedef {object} PlayerMeta
 * @property {number} [total]
 * @property {number[] | null} [positions]
 * @property {number} [duration]
 * @property {Record<string, number[]>} [markers]
 * @property {(number | string)[]} [speeds]
 */

/**
 * A PlayerView's `_player` trait (tfwidget/player.py).
 * @typedef {object} PlayerState
 * @property {number} [count]
 * @property {boolean} [playing]
 * @property {number | string} [speed]
 * @property {number} [t]
 */

export {};
