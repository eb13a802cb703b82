// pip expands `${VAR}` references in requirements files, so a `$` in anything that reaches pip could pull in a
// value from the installer's environment (an index password, for one). `$` is refused in every such string, with
// one message that says why, whichever rule would otherwise have stumbled over it first.

export const dollarRefusal = "contains '$', which is not allowed (pip expands ${VAR})";

/** The reason to refuse a string pip will read, or undefined when it has no `$`. */
export const checkNoDollar = (text: string): string | undefined => (text.includes('$') ? dollarRefusal : undefined);
