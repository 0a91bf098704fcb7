// Drives the Unity package's client core (clients/unity/Runtime/Core) from a console program under Mono, as a
// game's main loop would: tests/bridge/test_bridge_unity.py runs it against a real `emoplay serve` and reads
// one "UNITY ..." line per event.
//   mono probe.exe --url URL --token-file FILE [--disconnects N] [--timeout S]
//   mono probe.exe --launch-token-file FILE [--hang] -- EXECUTABLE ARGS...   (starts the server itself)
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using Emoplay;

static class ClientProbe
{
    static void Say(string text)
    {
        Console.WriteLine("UNITY " + text);
        Console.Out.Flush();
    }

    static int Main(string[] argv)
    {
        var options = new EmoplayClientOptions { ClientName = "unity-probe" };
        var disconnectsToQuit = 1;
        var timeout = 60.0;
        string launchTokenFile = null;
        var hang = false;
        var launchArgs = new List<string>();
        for (var i = 0; i < argv.Length; i++)
        {
            switch (argv[i])
            {
                case "--url": options.Url = argv[++i]; break;
                case "--token-file": options.TokenFile = argv[++i]; break;
                case "--disconnects": disconnectsToQuit = int.Parse(argv[++i]); break;
                case "--timeout": timeout = double.Parse(argv[++i], CultureInfo.InvariantCulture); break;
                case "--launch-token-file": launchTokenFile = argv[++i]; break;
                case "--hang": hang = true; break;
                case "--": launchArgs.AddRange(argv.Skip(i + 1)); i = argv.Length; break;
                default: Console.Error.WriteLine("unknown argument " + argv[i]); return 2;
            }
        }
        ServerLauncher launcher = null;
        if (launchTokenFile != null)
        {
            launcher = ServerLauncher.Start(launchArgs[0], launchArgs.GetRange(1, launchArgs.Count - 1), launchTokenFile,
                                            TimeSpan.FromSeconds(60));
            Say("launched pid=" + launcher.Process.Id + " url=" + launcher.WebSocketUrl + " token_file=" + launcher.TokenFile);
            options.Url = launcher.WebSocketUrl;
            options.TokenFile = launcher.TokenFile;
        }
        var client = new EmoplayClient(options);
        var disconnects = 0;
        var emotions = 0;
        var done = false;
        var exitCode = 0;
        client.Connected += w => Say(string.Format(CultureInfo.InvariantCulture, "connected protocol={0} camera={1} source={2}",
                                                   w.Protocol, w.CameraState, w.Source));
        client.Disconnected += d =>
        {
            Say("disconnected " + d.Code + " " + d.Reason + " retry=" + d.WillRetry);
            if (++disconnects >= disconnectsToQuit) done = true;
        };
        client.Reconnecting += s => Say(string.Format(CultureInfo.InvariantCulture, "reconnecting {0:0.00}", s));
        client.PairingRefused += r => { Say("refused " + r); done = true; exitCode = 5; };
        client.EmotionChanged += e =>
        {
            emotions++;
            Say(string.Format(CultureInfo.InvariantCulture, "emotion_changed {0} {1} {2:0.000} valence={3:0.000} p_happy={4:0.000}",
                              e.TrackId, e.Current, e.Confidence, e.Valence, e.Probabilities["happy"]));
            if (launcher != null && hang) Say("hanging");
            else if (launcher != null) done = true;
        };
        client.ServerError += (code, message) => Say("error " + code + " " + message);
        client.FaceFound += f => Say("face_found " + f.TrackId + " " + f.IsPrimary + " box_w=" + f.Box[2]);
        client.FaceLost += f => Say("face_lost " + f.TrackId);
        client.PrimaryFaceChanged += p => Say("primary " + p.Previous + " " + p.Current);
        client.CameraStateChanged += c => Say("camera " + c.Current + " " + c.Reason);
        client.MessageReceived += m =>
        {
            var type = (string)m["type"];
            if (type != "welcome" && type != "EmotionChanged" && type != "FaceFound" && type != "FaceLost" &&
                type != "PrimaryFaceChanged" && type != "CameraStateChanged" && type != "probabilities" && type != "error")
                Say("other " + type);
        };
        client.Start();
        var started = DateTime.UtcNow;
        while (!done)
        {
            client.IndicatorDrawn();  // a game that shows the camera indicator every frame
            client.DispatchPending();
            if ((DateTime.UtcNow - started).TotalSeconds > timeout) { Say("timeout"); exitCode = 3; break; }
            Thread.Sleep(16);
        }
        client.Stop();
        Say("summary emotions=" + emotions + " disconnects=" + disconnects);
        if (launcher != null)
        {
            var clean = launcher.Stop(TimeSpan.FromSeconds(15));
            Say("server_stopped clean=" + clean + " exit=" + launcher.Process.ExitCode);
        }
        return exitCode;
    }

    static IEnumerable<string> Skip(this string[] items, int start)
    {
        for (var i = start; i < items.Length; i++) yield return items[i];
    }
}
