/* http_page.h: the cluster page served at / (HTML, CSS and script in one string). */
#ifndef QUORUMFS_CMD_HTTP_PAGE_H
#define QUORUMFS_CMD_HTTP_PAGE_H

/*
 * The page asks every member's own /status (the addresses come in PEERS,
 * which the server writes before this text) once a second, and shows one
 * card per member: its role as it says itself, term, commit and applied
 * index; lag and last contact as the leader sees them. The leader is the
 * member that says it leads in the highest term. A member that does not
 * answer within 1.5 s shows as unreachable. Cards stack on a narrow screen.
 * The root element carries data-members, data-leader and data-reachable
 * for scripts (and the browser test) to read.
 */
static const char qfs_http_page_head[] =
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>quorumfs cluster</title><style>"
        "body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1d21}"
        "header{background:#23395b;color:#fff;padding:12px 16px}"
        "header h1{font-size:1.2em;margin:0}header p{margin:4px 0 0;font-size:.95em}"
        "#cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));"
        "gap:12px;padding:12px}"
        ".card{background:#fff;border-radius:8px;padding:12px 14px;"
        "box-shadow:0 1px 3px rgba(0,0,0,.15);border-left:6px solid #8a94a6}"
        ".card.leader{border-left-color:#1f9d55}.card.down{border-left-color:#d64545;opacity:.85}"
        ".card h2{font-size:1.05em;margin:0 0 6px;display:flex;justify-content:space-between}"
        ".badge{font-size:.8em;padding:2px 8px;border-radius:10px;background:#e4e7eb}"
        ".leader .badge{background:#1f9d55;color:#fff}.down .badge{background:#d64545;color:#fff}"
        "dl{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;margin:0;font-size:.95em}"
        "dt{color:#5f6b7a}dd{margin:0;font-variant-numeric:tabular-nums}"
        "footer{padding:0 16px 16px;color:#5f6b7a;font-size:.85em}"
        "</style></head><body><header><h1>quorumfs cluster</h1>"
        "<p id=\"summary\">loading&hellip;</p></header>"
        "<main id=\"cluster\" data-members=\"0\" data-leader=\"0\" data-reachable=\"0\">"
        "<div id=\"cards\"></div></main>"
        "<footer>Refreshes every second. Each member answers for itself at its own "
        "/status; lag and last contact are the leader's view.</footer><script>";

static const char qfs_http_page_tail[] =
        "function esc(s){return String(s).replace(/[&<>\"]/g,function(c){return "
        "{'&':'&amp;','<':'&lt;','>':'&gt;','\"':'&quot;'}[c];});}\n"
        "function get(addr){var c=new AbortController();var t=setTimeout(function(){c.abort();},1500);"
        "return fetch('http://'+addr+'/status',{signal:c.signal,cache:'no-store'})"
        ".then(function(r){clearTimeout(t);return r.json();})"
        ".catch(function(){clearTimeout(t);return null;});}\n"
        "function contact(m){if(!m)return '-';if(m.contact==='self')return 'self';"
        "if(m.contact==='never')return 'never';if(m.contact==='lost')"
        "return 'lost '+Math.floor(m.last_contact_ms/1000)+' s ago';"
        "if(m.contact==='ok')return m.last_contact_ms+' ms ago';return '-';}\n"
        "function draw(ids,st){var leader=null;ids.forEach(function(id){var s=st[id];"
        "if(s&&s.role==='leader'&&(!leader||s.term>leader.term))leader=s;});"
        "var lm={};if(leader)leader.members.forEach(function(m){lm[m.id]=m;});"
        "var up=0,html='';ids.forEach(function(id){var s=st[id],m=lm[id];"
        "var isl=leader&&leader.id==id;if(s)up++;"
        "var cls='card'+(isl?' leader':'')+(s?'':' down');"
        "var role=s?s.role:'unreachable';"
        "html+='<section class=\"'+cls+'\" data-member=\"'+id+'\" data-role=\"'+esc(role)+'\">'"
        "+'<h2><span>node '+esc(id)+'</span><span class=\"badge\">'+esc(isl?'LEADER':role)+'</span></h2>'"
        "+'<dl><dt>address</dt><dd>'+esc(PEERS[id]||'(no http-address)')+'</dd>'"
        "+'<dt>role</dt><dd>'+esc(role)+'</dd>'"
        "+'<dt>term</dt><dd>'+(s?s.term:'-')+'</dd>'"
        "+'<dt>commit</dt><dd>'+(s?s.commit:'-')+'</dd>'"
        "+'<dt>applied</dt><dd>'+(s?s.applied:'-')+'</dd>'"
        "+'<dt>lag</dt><dd>'+(m&&m.lag!==null?m.lag:'-')+'</dd>'"
        "+'<dt>last contact</dt><dd>'+esc(contact(m))+'</dd>'"
        "+'<dt>quorate</dt><dd>'+(s?(s.quorate?'yes':'no'):'-')+'</dd>'"
        "+'</dl></section>';});"
        "document.getElementById('cards').innerHTML=html;"
        "var root=document.getElementById('cluster');root.dataset.members=ids.length;"
        "root.dataset.leader=leader?leader.id:0;root.dataset.reachable=up;"
        "document.getElementById('summary').textContent=ids.length+' members, '+up+' reachable, '"
        "+(leader?'leader node '+leader.id+' in term '+leader.term:'no leader')"
        "+' \\u2014 '+new Date().toLocaleTimeString();}\n"
        "function poll(){var ids=Object.keys(PEERS);"
        "Promise.all(ids.map(function(id){return get(PEERS[id]);})).then(function(res){"
        "var st={},all={},any=false;ids.forEach(function(id,i){st[id]=res[i];});"
        /* The members are the replicated membership as the members say it
         * (one added later shows too); the configuration's list only when
         * nobody answers. */
        "res.forEach(function(s){if(s){any=true;s.members.forEach(function(m){all[m.id]=1;});}});"
        "if(!any)ids.forEach(function(id){all[id]=1;});"
        "var list=Object.keys(all).sort(function(a,b){return a-b;});draw(list,st);"
        "setTimeout(poll,1000);});}\npoll();</script></body></html>";

#endif
