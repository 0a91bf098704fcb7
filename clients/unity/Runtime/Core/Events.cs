// Typed bridge events (docs/bridge/PROTOCOL.md, "Server -> client"). Each is made from one JSON message;
// fields the server adds later are ignored, and message types this client does not know reach
// EmoplayClient.MessageReceived only.
using System;
using System.Collections.Generic;
using System.Globalization;

namespace Emoplay
{
    public sealed class Welcome
    {
        public int Protocol;
        public string CameraState;
        public string Source;
        public int? PrimaryTrackId;
        public IDictionary<int, string> FaceEmotions = new Dictionary<int, string>();
        public IDictionary<string, object> Message;

        internal static Welcome From(IDictionary<string, object> m)
        {
            var w = new Welcome
            {
                Protocol = Fields.Int(m, "protocol"), CameraState = Fields.Str(m, "camera_state"),
                Source = Fields.Str(m, "source"), PrimaryTrackId = Fields.OptionalInt(m, "primary_track_id"), Message = m,
            };
            object faces;
            if (m.TryGetValue("faces", out faces) && faces is List<object>)
                foreach (var face in (List<object>)faces)
                {
                    var f = face as IDictionary<string, object>;
                    if (f != null) w.FaceEmotions[Fields.Int(f, "track_id")] = Fields.Str(f, "emotion");
                }
            return w;
        }
    }

    public sealed class EmotionChanged
    {
        public int TrackId;
        public string Previous;
        public string Current;
        public float Confidence;
        public IDictionary<string, float> Probabilities;
        public float Valence;   // approximate: unpleasant -1 .. pleasant +1
        public float Arousal;   // approximate: calm -1 .. activated +1
        public double Timestamp;

        internal static EmotionChanged From(IDictionary<string, object> m)
        {
            return new EmotionChanged
            {
                TrackId = Fields.Int(m, "track_id"), Previous = Fields.Str(m, "previous"), Current = Fields.Str(m, "current"),
                Confidence = Fields.Float(m, "confidence"), Probabilities = Fields.Floats(m, "probabilities"),
                Valence = Fields.Float(m, "valence"), Arousal = Fields.Float(m, "arousal"), Timestamp = Fields.Double(m, "timestamp"),
            };
        }
    }

    public sealed class FaceFound
    {
        public int TrackId;
        public bool IsPrimary;
        public int[] Box;  // x, y, width, height in pixels of the source frame
        public double Timestamp;

        internal static FaceFound From(IDictionary<string, object> m)
        {
            var box = new int[4];
            object raw;
            if (m.TryGetValue("box", out raw) && raw is List<object> && ((List<object>)raw).Count == 4)
                for (var i = 0; i < 4; i++) box[i] = Convert.ToInt32(((List<object>)raw)[i], CultureInfo.InvariantCulture);
            return new FaceFound
            {
                TrackId = Fields.Int(m, "track_id"), IsPrimary = Fields.Bool(m, "is_primary"), Box = box,
                Timestamp = Fields.Double(m, "timestamp"),
            };
        }
    }

    public sealed class FaceLost
    {
        public int TrackId;
        public double Timestamp;

        internal static FaceLost From(IDictionary<string, object> m)
        {
            return new FaceLost { TrackId = Fields.Int(m, "track_id"), Timestamp = Fields.Double(m, "timestamp") };
        }
    }

    public sealed class PrimaryFaceChanged
    {
        public int? Previous;  // null: there was no primary face
        public int? Current;   // null: there is none now
        public double Timestamp;

        internal static PrimaryFaceChanged From(IDictionary<string, object> m)
        {
            return new PrimaryFaceChanged
            {
                Previous = Fields.OptionalInt(m, "previous"), Current = Fields.OptionalInt(m, "current"),
                Timestamp = Fields.Double(m, "timestamp"),
            };
        }
    }

    public sealed class CameraStateChanged
    {
        public string Previous;  // off, starting, capturing, paused, error
        public string Current;
        public string Reason;
        public double Timestamp;

        internal static CameraStateChanged From(IDictionary<string, object> m)
        {
            return new CameraStateChanged
            {
                Previous = Fields.Str(m, "previous"), Current = Fields.Str(m, "current"), Reason = Fields.Str(m, "reason"),
                Timestamp = Fields.Double(m, "timestamp"),
            };
        }
    }

    public sealed class Disconnected
    {
        public int Code;        // the WebSocket close code; 1006: the connection failed or broke without one
        public string Reason;
        public bool WillRetry;  // false after a wrong token (4001) or Stop()
    }

    static class Fields
    {
        public static string Str(IDictionary<string, object> m, string key)
        {
            object v;
            return m.TryGetValue(key, out v) && v != null ? v.ToString() : "";
        }

        public static double Double(IDictionary<string, object> m, string key)
        {
            object v;
            return m.TryGetValue(key, out v) && v is double ? (double)v : 0.0;
        }

        public static float Float(IDictionary<string, object> m, string key) { return (float)Double(m, key); }

        public static int Int(IDictionary<string, object> m, string key) { return (int)Double(m, key); }

        public static int? OptionalInt(IDictionary<string, object> m, string key)
        {
            object v;
            return m.TryGetValue(key, out v) && v is double ? (int?)(int)(double)v : null;
        }

        public static bool Bool(IDictionary<string, object> m, string key)
        {
            object v;
            return m.TryGetValue(key, out v) && v is bool && (bool)v;
        }

        public static IDictionary<string, float> Floats(IDictionary<string, object> m, string key)
        {
            var result = new Dictionary<string, float>();
            object v;
            if (m.TryGetValue(key, out v) && v is IDictionary<string, object>)
                foreach (var pair in (IDictionary<string, object>)v)
                    if (pair.Value is double) result[pair.Key] = (float)(double)pair.Value;
            return result;
        }
    }
}
