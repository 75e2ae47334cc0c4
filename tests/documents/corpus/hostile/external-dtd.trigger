<?xml version="1.0"?>
<!DOCTYPE lolz SYSTEM "http://127.0.0.1:9/x.dtd">
<lolz>&lol;</lolz>
