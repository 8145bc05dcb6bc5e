// Package jsonread reads JSON a value at a time, for decoders written by
// hand: the files that every nook exec reads (a sandbox's state and its
// exec cache) are decoded without encoding/json's reflection, whose first
// use of a type builds its whole graph of fields and encoders, 0.1-0.2 ms
// per file in a fresh process, against some 10 us for the reading itself.
// Package spec's walker reads a config.json with it too, reflecting on
// the values the document sets and on nothing else.
//
// It goes no further than the files need: a Reader walks one document
// byte by byte, and a decoder says what each value must be. What it reads
// is what json.Unmarshal would, for documents json.Marshal wrote: keys
// are matched exactly (encoding/json would also take another case),
// unknown keys are skipped, null leaves a value unset, and a value of the
// wrong kind, a number out of range, anything that is not JSON or
// anything after the document is an error. A string with escapes or
// bytes outside ASCII is handed to json.Unmarshal, whose rules for them
// (invalid UTF-8 and lone surrogates become U+FFFD) it then has.
// (encoding/json's Decoder.Token reflects on nothing either, but costs
// some 1 us a token, a tenth of a nook exec's decoding.)
package jsonread
