// A small JSON reader and writer for the bridge's messages: objects become Dictionary<string, object>,
// arrays List<object>, numbers double, and true/false/null bool/null. No dependency beyond the BCL, so the
// client core compiles anywhere .NET does (Unity, Mono, .NET).
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Emoplay
{
    public static class Json
    {
        public static object Parse(string text)
        {
            var reader = new Reader(text);
            reader.SkipSpace();
            var value = reader.Value();
            reader.SkipSpace();
            if (!reader.AtEnd) throw new FormatException("JSON: unexpected text after the value at " + reader.Position);
            return value;
        }

        public static string Write(object value)
        {
            var sb = new StringBuilder();
            WriteValue(sb, value);
            return sb.ToString();
        }

        static void WriteValue(StringBuilder sb, object value)
        {
            if (value == null) sb.Append("null");
            else if (value is string) WriteString(sb, (string)value);
            else if (value is bool) sb.Append((bool)value ? "true" : "false");
            else if (value is IDictionary<string, object>)
            {
                sb.Append('{');
                var first = true;
                foreach (var pair in (IDictionary<string, object>)value)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    WriteString(sb, pair.Key);
                    sb.Append(':');
                    WriteValue(sb, pair.Value);
                }
                sb.Append('}');
            }
            else if (value is System.Collections.IEnumerable)
            {
                sb.Append('[');
                var first = true;
                foreach (var item in (System.Collections.IEnumerable)value)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    WriteValue(sb, item);
                }
                sb.Append(']');
            }
            else sb.Append(Convert.ToDouble(value, CultureInfo.InvariantCulture).ToString("R", CultureInfo.InvariantCulture));
        }

        static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (var c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    default:
                        if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4"));
                        else sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }

        sealed class Reader
        {
            readonly string _s;
            int _i;

            public Reader(string s) { _s = s; }
            public bool AtEnd { get { return _i >= _s.Length; } }
            public int Position { get { return _i; } }

            public void SkipSpace()
            {
                while (_i < _s.Length && (_s[_i] == ' ' || _s[_i] == '\t' || _s[_i] == '\n' || _s[_i] == '\r')) _i++;
            }

            char Next()
            {
                if (_i >= _s.Length) throw new FormatException("JSON: unexpected end");
                return _s[_i++];
            }

            void Expect(string word)
            {
                if (string.CompareOrdinal(_s, _i, word, 0, word.Length) != 0)
                    throw new FormatException("JSON: expected " + word + " at " + _i);
                _i += word.Length;
            }

            public object Value()
            {
                if (AtEnd) throw new FormatException("JSON: unexpected end");
                var c = _s[_i];
                if (c == '{') return Object();
                if (c == '[') return Array();
                if (c == '"') return String();
                if (c == 't') { Expect("true"); return true; }
                if (c == 'f') { Expect("false"); return false; }
                if (c == 'n') { Expect("null"); return null; }
                return Number();
            }

            Dictionary<string, object> Object()
            {
                var result = new Dictionary<string, object>();
                _i++;
                SkipSpace();
                if (!AtEnd && _s[_i] == '}') { _i++; return result; }
                while (true)
                {
                    SkipSpace();
                    if (AtEnd || _s[_i] != '"') throw new FormatException("JSON: expected a key at " + _i);
                    var key = String();
                    SkipSpace();
                    if (Next() != ':') throw new FormatException("JSON: expected ':' at " + (_i - 1));
                    SkipSpace();
                    result[key] = Value();
                    SkipSpace();
                    var c = Next();
                    if (c == '}') return result;
                    if (c != ',') throw new FormatException("JSON: expected ',' or '}' at " + (_i - 1));
                }
            }

            List<object> Array()
            {
                var result = new List<object>();
                _i++;
                SkipSpace();
                if (!AtEnd && _s[_i] == ']') { _i++; return result; }
                while (true)
                {
                    SkipSpace();
                    result.Add(Value());
                    SkipSpace();
                    var c = Next();
                    if (c == ']') return result;
                    if (c != ',') throw new FormatException("JSON: expected ',' or ']' at " + (_i - 1));
                }
            }

            string String()
            {
                _i++;
                var sb = new StringBuilder();
                while (true)
                {
                    var c = Next();
                    if (c == '"') return sb.ToString();
                    if (c != '\\') { sb.Append(c); continue; }
                    var e = Next();
                    switch (e)
                    {
                        case '"': sb.Append('"'); break;
                        case '\\': sb.Append('\\'); break;
                        case '/': sb.Append('/'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'n': sb.Append('\n'); break;
                        case 'r': sb.Append('\r'); break;
                        case 't': sb.Append('\t'); break;
                        case 'u':
                            if (_i + 4 > _s.Length) throw new FormatException("JSON: bad \\u escape");
                            sb.Append((char)int.Parse(_s.Substring(_i, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                            _i += 4;
                            break;
                        default: throw new FormatException("JSON: bad escape at " + (_i - 1));
                    }
                }
            }

            double Number()
            {
                var start = _i;
                while (_i < _s.Length && "+-0123456789.eE".IndexOf(_s[_i]) >= 0) _i++;
                double value;
                if (_i == start || !double.TryParse(_s.Substring(start, _i - start), NumberStyles.Float,
                        CultureInfo.InvariantCulture, out value))
                    throw new FormatException("JSON: bad value at " + start);
                return value;
            }
        }
    }
}
