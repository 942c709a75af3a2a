package main

import (
	"flag"
	"log"
	"net/http"
	"time"
)

var addr = flag.String("addr", "127.0.0.1:8080", "http service address")

// port: gorilla serves home.html from the working directory; the page
// is inline here so that the program runs from anywhere.
const homeHTML = `<!DOCTYPE html>
<title>Chat Example</title>
<div id="log"></div>
<form id="form"><input type="text" id="msg" size="64" autofocus><input type="submit" value="Send"></form>
<script>
const log = document.getElementById("log"), msg = document.getElementById("msg");
const conn = new WebSocket("ws://" + location.host + "/ws");
conn.onclose = () => { log.append("Connection closed.", document.createElement("br")); };
conn.onmessage = (e) => { for (const m of e.data.split("\n")) log.append(m, document.createElement("br")); };
document.getElementById("form").onsubmit = (e) => { e.preventDefault(); if (msg.value) { conn.send(msg.value); msg.value = ""; } };
</script>
`

func serveHome(w http.ResponseWriter, r *http.Request) {
	log.Println(r.URL)
	if r.URL.Path != "/" {
		http.Error(w, "Not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(homeHTML))
}

func newMux(hub *Hub) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/", serveHome)
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		serveWs(hub, w, r)
	})
	return mux
}

func main() {
	flag.Parse()
	hub := newHub()
	go hub.run()
	server := &http.Server{
		Addr:              *addr,
		Handler:           newMux(hub),
		ReadHeaderTimeout: 3 * time.Second,
	}
	err := server.ListenAndServe()
	if err != nil {
		log.Fatal("ListenAndServe: ", err)
	}
}
