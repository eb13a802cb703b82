// What the operator writes into status and events is bounded: a spec the CRD accepts can produce hundreds of field
// errors that each quote a 2 KB input, and a status over etcd's object limit is refused, so the user would never see
// why. These sizes keep one condition message readable in `kubectl describe` and far below the apiserver's limits
// (32 KiB for a condition message).

/** One condition message, one status string, or one event message (the event recorder's own cap is 1024). */
export const MAX_MESSAGE_CHARS = 4096;
/** One field error, one warning or one error text inside a message. */
export const MAX_ITEM_CHARS = 300;
/** Field errors (or warnings) listed before "and N more". */
export const MAX_ITEMS = 10;

/** Where a summarized list of field errors or warnings can be seen in full. */
export const VALIDATE_HINT = '`kasprop validate -f <file>` lists them all';

/** status.pythonPackages.error (the installer keeps its own under 400; a log tail standing in for it may be longer). */
export const MAX_ERROR_CHARS = 1024;

export function capText(text: string, max = MAX_ITEM_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/** The first items, each cut, joined by '; ', then how many were left out and where to see them all. */
export function summarize(items: readonly string[], seeAll: string): string {
  const shown = items.slice(0, MAX_ITEMS).map((item) => capText(item));
  const more = items.length - shown.length;
  const summary = shown.join('; ') + (more > 0 ? `; and ${String(more)} more (${seeAll})` : '');
  return capText(summary, MAX_MESSAGE_CHARS);
}

/** A list of warnings for status: at most MAX_ITEMS, each cut, the last one saying how many were left out. */
export function capList(items: readonly string[]): string[] {
  if (items.length <= MAX_ITEMS) return items.map((item) => capText(item));
  const more = items.length - (MAX_ITEMS - 1);
  return [...items.slice(0, MAX_ITEMS - 1).map((item) => capText(item)), `and ${String(more)} more warnings`];
}
