{{- /*
provenance: generated-by=claude-code; reviewed-by=hand; reason=kubectl-ai was not available on this machine; a port of the backend's own check (images/backend/src/todo_api/secret_strength.py) so `helm install` refuses what the backend would refuse at start-up
*/ -}}

{{/*
Why a JWT secret is too weak for HS256, or nothing when it is strong (issue 27). The same rules as the
backend: a value committed to the repository (by SHA-256) is refused; the alphabet is inferred from the
characters used (hex, the base64 family, printable ASCII) and length x log2(alphabet) must reach 256 bits;
the mix of lower case, upper case, digits and symbols must be what a random draw gives (chi-square at
most 25) and it must use at least 70 % of the distinct characters a random draw of that length would;
one short unit repeated is refused. Usage: include "todo-chatbot.jwtSecretProblem" .Values.secrets.jwtSecret
*/}}
{{- define "todo-chatbot.jwtSecretProblem" -}}
{{- $s := toString . -}}
{{- $committed := list
  "a22e43b757efa4bba4c9cef8edfa7ce2f38e5e7e1b06672b60f7c4e91dfff8b8"
  "53d6ef4746130cd10e70b8037cbf1c7d4d3e3e8782383f63bf8b4443e2d19a90"
  "d8cc93630304f67c76aad9b6107a291b06a52c356c6c8fdd1494ee502b718aaa"
  "7b3d979ca8330a94fa7e9e1b466d8b99e0bcdea1ec90596c0dcc8d7ef6b4300c"
  "a9736a20e6bdd281b6ccb0acecceea18bed81e1de95160a5b9feb76937f5d928"
  "a7a1330b376fd6ef52467b30c13e64c7feffe1f8a45dc2c06e2adf50aa0041db"
  "7acb5687c53f92959c271ee3a885bee2b03ac13fe0eca451d0d1c12f158d7f3d"
  "86dfd4ddbcd653d450911c387ecd4ae58c15346ec9e1f3dbed0c4e0f78745ff4" -}}
{{- if has (sha256sum $s) $committed -}}
is a value committed to this repository (a test or documentation secret), not a secret
{{- else -}}
{{- /* The alphabet: class name -> size, and the characters that are tested. */ -}}
{{- $alphabet := "printable" -}}
{{- $core := $s -}}
{{- $sizes := dict -}}
{{- if or (regexMatch "^[0-9a-f]+$" $s) (regexMatch "^[0-9A-F]+$" $s) -}}
{{- $alphabet = "hex" -}}
{{- $_ := set $sizes "digit" 10 -}}{{- $_ := set $sizes "letter" 6 -}}
{{- else if regexMatch "^[A-Za-z0-9+/_-]+=*$" $s -}}
{{- $alphabet = "base64" -}}
{{- $core = trimSuffix "=" $s | trimSuffix "=" -}}
{{- if and (regexMatch "[a-z]" $core) (regexMatch "[A-Z]" $core) -}}
{{- $_ := set $sizes "lower" 26 -}}{{- $_ := set $sizes "upper" 26 -}}{{- $_ := set $sizes "digit" 12 -}}
{{- else -}}
{{- if regexMatch "[a-z]" $core }}{{ $_ := set $sizes "lower" 26 }}{{ end -}}
{{- if regexMatch "[A-Z]" $core }}{{ $_ := set $sizes "upper" 26 }}{{ end -}}
{{- if regexMatch "[0-9]" $core }}{{ $_ := set $sizes "digit" 10 }}{{ end -}}
{{- if regexMatch "[+/_-]" $core }}{{ $_ := set $sizes "symbol" 2 }}{{ end -}}
{{- end -}}
{{- else -}}
{{- if regexMatch "[a-z]" $s }}{{ $_ := set $sizes "lower" 26 }}{{ end -}}
{{- if regexMatch "[A-Z]" $s }}{{ $_ := set $sizes "upper" 26 }}{{ end -}}
{{- if regexMatch "[0-9]" $s }}{{ $_ := set $sizes "digit" 10 }}{{ end -}}
{{- if regexMatch "[^A-Za-z0-9]" $s }}{{ $_ := set $sizes "symbol" 32 }}{{ end -}}
{{- end -}}
{{- $k := 0 -}}
{{- range $name, $size := $sizes }}{{ $k = add $k $size }}{{ end -}}
{{- $n := len $core -}}
{{- /* The fewest characters of this alphabet that carry 256 bits: the smallest m with k^m >= 2^256. */ -}}
{{- $need := 0 -}}
{{- if gt $k 1 -}}
{{- $power := 1.0 -}}
{{- range $i := until 300 -}}
{{- if eq $need 0 -}}
{{- if ge $power 1.157920892373162e+77 }}{{ $need = $i }}{{ else }}{{ $power = mulf $power $k }}{{ end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if or (le $k 1) (lt $n $need) -}}
is too short for its characters: {{ $n }} {{ $alphabet }} characters, HS256 needs 256 bits (at least {{ $need }} such characters)
{{- else -}}
{{- /* chi-square of the classes against a random draw */ -}}
{{- $counts := dict -}}
{{- if eq $alphabet "hex" -}}
{{- $_ := set $counts "digit" (len (regexFindAll "[0-9]" $core -1)) -}}
{{- $_ := set $counts "letter" (len (regexFindAll "[a-fA-F]" $core -1)) -}}
{{- else -}}
{{- $_ := set $counts "lower" (len (regexFindAll "[a-z]" $core -1)) -}}
{{- $_ := set $counts "upper" (len (regexFindAll "[A-Z]" $core -1)) -}}
{{- $_ := set $counts "digit" (len (regexFindAll "[0-9]" $core -1)) -}}
{{- $_ := set $counts "symbol" (len (regexFindAll "[^A-Za-z0-9]" $core -1)) -}}
{{- if not (hasKey $sizes "symbol") -}}
{{- /* both-case base64: symbols count with the digits */ -}}
{{- $_ := set $counts "digit" (add (get $counts "digit") (get $counts "symbol")) -}}
{{- end -}}
{{- end -}}
{{- $chi := 0.0 -}}
{{- range $name, $size := $sizes -}}
{{- $expected := divf (mulf $n $size) $k -}}
{{- $diff := subf (get $counts $name) $expected -}}
{{- $chi = addf $chi (divf (mulf $diff $diff) $expected) -}}
{{- end -}}
{{- /* distinct characters against what a random draw of this length uses: k (1 - (1 - 1/k)^n) */ -}}
{{- $seen := dict -}}
{{- range $c := splitList "" $core }}{{ $_ := set $seen $c true }}{{ end -}}
{{- $miss := 1.0 -}}
{{- range $i := until $n }}{{ $miss = mulf $miss (subf 1.0 (divf 1.0 $k)) }}{{ end -}}
{{- $distinctExpected := mulf $k (subf 1.0 $miss) -}}
{{- /* one short unit repeated */ -}}
{{- $repeated := false -}}
{{- range $d := untilStep 1 $n 1 -}}
{{- if and (not $repeated) (eq (mod $n $d) 0) (eq (repeat (int (div $n $d)) (substr 0 (int $d) $s)) $s) }}{{ $repeated = true }}{{ end -}}
{{- end -}}
{{- if gt $chi 25.0 -}}
does not look random (its mix of letters, digits and symbols is not what a random draw gives)
{{- else if lt (float64 (len $seen)) (mulf 0.7 $distinctExpected) -}}
does not look random: {{ len $seen }} distinct characters where a random value of this length has about {{ round $distinctExpected 0 }}
{{- else if $repeated -}}
is too predictable: one short pattern repeated
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
