// Starts the bundled emoplay server with the game and stops it with the game: put the emoplay-serve folder (built
// with packaging/build_server.py in the emoplay repository) under Assets/StreamingAssets/emoplay-serve/, add this
// component next to an EmoplayBehaviour, and it connects that client to the server it started. The server also
// stops by itself if the game crashes (it is started with --parent-pid).
using System;
using System.Collections.Generic;
using System.IO;
using UnityEngine;

namespace Emoplay
{
    [AddComponentMenu("emoplay/Emoplay Server Launcher")]
    [DefaultExecutionOrder(-100)]
    [RequireComponent(typeof(EmoplayBehaviour))]
    public sealed class EmoplayServerLauncher : MonoBehaviour
    {
        [Tooltip("The server executable: a path relative to StreamingAssets, or absolute. On Windows .exe is added.")]
        public string serverPath = "emoplay-serve/emoplay-serve";
        [Tooltip("The video source: \"camera\" (or \"camera:1\"), or a video file's path to try without a camera.")]
        public string source = "camera";
        [Tooltip("Set only after the player agreed to camera use in your own consent screen: passes --yes.")]
        public bool playerConsentedToCamera = false;
        [Tooltip("More `emoplay serve` options, e.g. --stability dialogue --signal-hz 10.")]
        public string[] extraArguments = new string[0];
        public float startTimeoutSeconds = 60f;

        public ServerLauncher Server { get; private set; }

        void Start()
        {
            var client = GetComponent<EmoplayBehaviour>();
            var isCamera = source.StartsWith("camera", StringComparison.Ordinal);
            if (isCamera && !playerConsentedToCamera)
            {
                Debug.LogError("emoplay: the camera needs the player's consent: ask in your game, then set " +
                               "playerConsentedToCamera before this component starts");
                return;
            }
            var args = new List<string> { "--source", source };
            if (isCamera) args.Add("--yes");
            else args.AddRange(new[] { "--realtime", "--loop" });
            args.AddRange(extraArguments);
            var executable = Path.IsPathRooted(serverPath) ? serverPath : Path.Combine(Application.streamingAssetsPath, serverPath);
            if (Application.platform == RuntimePlatform.WindowsPlayer || Application.platform == RuntimePlatform.WindowsEditor)
                executable += ".exe";
            var tokenFile = Path.Combine(Application.temporaryCachePath, "emoplay-token");
            try
            {
                Server = ServerLauncher.Start(executable, args, tokenFile, TimeSpan.FromSeconds(startTimeoutSeconds));
            }
            catch (EmoplayLaunchException e)
            {
                Debug.LogError("emoplay: " + e.Message);
                return;
            }
            client.url = Server.WebSocketUrl;
            client.tokenFile = Server.TokenFile;
            client.Connect();
        }

        void OnApplicationQuit() { StopServer(); }

        void OnDestroy() { StopServer(); }

        void StopServer()
        {
            if (Server == null) return;
            var client = GetComponent<EmoplayBehaviour>();
            if (client != null) client.Disconnect();
            Server.Stop(TimeSpan.FromSeconds(3));
            Server = null;
        }
    }
}
