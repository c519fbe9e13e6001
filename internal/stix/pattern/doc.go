// Package pattern owns the STIX 2.1 patterning language (STIX 2.1 section 9): a hand-written lexer
// and recursive-descent parser that turn a pattern into a compiled *Pattern, and an evaluator that
// runs a compiled pattern against observations: STIX 2.1 observed-data (object_refs plus the
// referenced SCOs), STIX 2.0 observed-data (the objects dictionary), or observations a log reader
// builds directly (Observation).
//
// Compile is safe on hostile input: the pattern's length, nesting depth and number of comparisons
// are limited (Limits), every error is a *SyntaxError giving the byte offset, line and column, what
// was found and what was expected, and MATCHES only ever runs on Go's RE2 engine; PCRE constructs
// RE2 cannot run (backreferences, lookaround, possessive quantifiers, atomic groups, recursion,
// conditionals) are refused at compile time.
//
// Evaluation never searches exponentially: comparison expressions are evaluated once per object,
// and the combination of observations (AND, OR, FOLLOWEDBY, REPEATS, WITHIN, START/STOP) is built
// from bounded lists of candidate bindings (EvalLimits). The bound, and the exact semantics chosen
// where the specification is ambiguous, are documented in docs/PATTERNS.md.
//
// For an indexing matcher, IndexKeys lists the exact-value comparisons of a pattern that can serve
// as index keys, and IndexComplete says whether every match must hit one of them; Match then
// evaluates the whole pattern on the observations around a hit.
package pattern
